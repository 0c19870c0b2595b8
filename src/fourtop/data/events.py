"""Synthetic TTTT and ttbar events: partons, jets, lepton and MET as four-vectors.

Each event is built from top quarks (four for TTTT, two for ttbar) with falling pT
spectra, decayed ``t -> b W``, ``W -> q q'`` or ``l nu`` in their rest frames, plus extra
radiation and the extra heavy-flavour jets of the ttbb/tt2b/tt1b/ttcc categories. Partons
become jets after a pT resolution, the acceptance (pT > 30 GeV, |eta| < 2.4) and a DeepCSV
score drawn by flavour. Every one of the 76 variables is then computed from these objects
(see :mod:`fourtop.data.kinematics`), so their correlations arise as in real events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fourtop.data import kinematics as kin

__all__ = ["Process", "simulate"]

M_TOP, M_W, M_B = 172.5, 80.4, 4.8
PT_MIN, ETA_MAX = 30.0, 2.4
#: preselection of the written ntuples (looser than the analysis selection)
SKIM_JETS, SKIM_HT, SKIM_LEPTON_PT = 5, 450.0, 40.0
#: jets kept per event (the pT-ordered leading ones)
MAX_JETS = 14
#: DeepCSV medium working point per dataset key
CSV_MEDIUM = {"2017": 0.4941, "2018": 0.4184}


@dataclass(frozen=True)
class Process:
    """What one sample file contains.

    Attributes:
        decay: "tttt" (single lepton), "semilep", "dilep" or "hadronic".
        flavour: extra jets' flavour category: "jj", "cc", "bb", "2b" or "1b".
        xsec: cross section of this slice, pb.
        negative_fraction: fraction of negative generator weights.
        top_pt: scale (GeV) of the top-quark pT spectrum (Gamma, shape 2).
        extra_jets: mean number of extra radiation partons.
        extra_pt: scale (GeV) of the extra partons' pT spectrum.
    """

    decay: str
    flavour: str = "jj"
    xsec: float = 1.0
    negative_fraction: float = 0.005
    top_pt: float = 55.0
    extra_jets: float = 1.6
    extra_pt: float = 35.0


def _tops(n: int, n_tops: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    pt = rng.gamma(2.0, scale, (n_tops, n))
    y = rng.normal(0.0, 1.1, (n_tops, n))
    phi = rng.uniform(-np.pi, np.pi, (n_tops, n))
    m = M_TOP + rng.normal(0.0, 1.3, (n_tops, n))
    mt = np.sqrt(m**2 + pt**2)
    return np.stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)])


def simulate(
    process: Process, n: int, rng: np.random.Generator, key: str = "2017"
) -> dict[str, np.ndarray]:
    """Simulate ``n`` events; returns those passing the skim, with the 76 variables and the
    weight/selection branches.

    The jagged jet-pT branch is returned flat as ``_jet_pt`` with ``_jet_count`` per event.
    """
    n_tops = 4 if process.decay == "tttt" else 2
    tops = _tops(n, n_tops, process.top_pt, rng)  # (4, T, n)
    m_w = M_W + rng.normal(0.0, 2.0, (n_tops, n))
    b, w = kin.two_body(tops, np.full((n_tops, n), M_B), m_w, rng)
    q1, q2 = kin.two_body(w, np.zeros((n_tops, n)), np.zeros((n_tops, n)), rng)
    leptonic = np.zeros(n_tops, dtype=bool)
    if process.decay in ("tttt", "semilep"):
        leptonic[0] = True
    elif process.decay == "dilep":
        leptonic[:2] = True
    # partons that become jets: every b, and the quarks of hadronic W decays
    parts = [b[:, i] for i in range(n_tops)]
    flav = [np.full(n, 5) for _ in range(n_tops)]
    exists = [np.ones(n, dtype=bool) for _ in range(n_tops)]
    for i in np.flatnonzero(~leptonic):
        charm = rng.uniform(size=n) < 0.5  # W -> cs half of the time
        parts += [q1[:, i], q2[:, i]]
        flav += [np.where(charm, 4, 1), np.ones(n, dtype=int)]
        exists += [np.ones(n, dtype=bool)] * 2
    extra_flav = {"jj": [], "cc": [4, 4], "bb": [5, 5], "2b": [5], "1b": [5]}[process.flavour]
    scale = 80.0 if process.flavour == "2b" else 45.0  # tt2b: two b quarks in one jet
    for f in extra_flav:
        parts.append(kin.p4(25 + rng.exponential(scale, n), rng.normal(0, 1.3, n),
                            rng.uniform(-np.pi, np.pi, n), np.full(n, M_B)))  # fmt: skip
        flav.append(np.full(n, f))
        exists.append(np.ones(n, dtype=bool))
    n_extra = rng.poisson(process.extra_jets, n)
    for k in range(int(n_extra.max(initial=0))):
        parts.append(kin.p4(20 + rng.exponential(process.extra_pt, n), rng.normal(0, 1.6, n),
                            rng.uniform(-np.pi, np.pi, n), np.zeros(n)))  # fmt: skip
        flav.append(np.where(rng.uniform(size=n) < 0.05, 4, 21))
        exists.append(n_extra > k)
    jets = _reconstruct(np.stack(parts, axis=-1), np.stack(flav, -1), np.stack(exists, -1), rng)
    pt, eta, phi, mass, fl = jets
    csv = kin.deepcsv(fl, rng)
    # lepton and missing energy
    if process.decay == "hadronic":  # a non-prompt lepton from a jet, little MET
        lep = kin.p4(25 + rng.exponential(15, n), rng.normal(0, 1.1, n),
                     rng.uniform(-np.pi, np.pi, n), np.zeros(n))  # fmt: skip
        nu = np.zeros((4, n))
    else:
        lep, nu = q1[:, 0], q2[:, 0]
        if process.decay == "dilep":  # the second lepton is lost: it adds to the MET
            nu = nu + q1[:, 1] + q2[:, 1]
    ht = pt.sum(axis=1)
    sigma = 4.0 + 0.6 * np.sqrt(ht)
    met_x = nu[1] + rng.normal(0, 1, n) * sigma
    met_y = nu[2] + rng.normal(0, 1, n) * sigma
    book = _bookkeeping(process, lep, n, rng, key)
    tags = _tags(tops, w, leptonic, pt, rng)
    # the ntuples' preselection (as ljmet skims): variables are computed for these only
    keep = (
        ((pt > 0).sum(axis=1) >= SKIM_JETS)
        & (ht > SKIM_HT)
        & (np.hypot(lep[1], lep[2]) > SKIM_LEPTON_PT)
    )
    pt, eta, phi, mass, csv = (a[keep][:, :MAX_JETS] for a in (pt, eta, phi, mass, csv))
    out = kin.variables(pt, eta, phi, mass, csv, CSV_MEDIUM.get(key, 0.4941), lep[:, keep],
                        met_x[keep], met_y[keep], rng)  # fmt: skip
    out.update({k: v[keep] for k, v in (book | tags).items()})
    count = (pt > 0).sum(axis=1)
    out["_jet_count"] = count
    out["_jet_pt"] = pt[pt > 0].astype(np.float32)
    return out


def _reconstruct(parts, flav, exists, rng):
    """Smear partons into jets, apply the acceptance, sort by pT (zero pT = no jet)."""
    _, px, py, pz = parts
    pt = np.hypot(px, py) * rng.normal(1.0, 0.1, px.shape)
    eta = np.arcsinh(pz / np.maximum(np.hypot(px, py), 1e-9)) + rng.normal(0, 0.02, px.shape)
    phi = np.arctan2(py, px)
    mass = pt * rng.uniform(0.05, 0.15, px.shape) + np.where(flav == 5, M_B, 0)
    ok = exists & (pt > PT_MIN) & (np.abs(eta) < ETA_MAX)
    pt = np.where(ok, pt, 0.0)
    order = np.argsort(-pt, axis=1, kind="stable")
    width = max(int(ok.sum(axis=1).max(initial=0)), 1)
    order = order[:, :width]
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    return (
        take(pt),
        take(np.where(ok, eta, 0)),
        take(np.where(ok, phi, 0)),
        take(np.where(ok, mass, 0)),
        take(np.where(ok, flav, 0)),
    )


def _tags(tops, w, leptonic, pt, rng) -> dict[str, np.ndarray]:
    """Boosted top and W tags: hadronic tops above 400 GeV, Ws above 200 GeV, plus fakes."""
    top_pt = np.hypot(tops[1], tops[2])
    w_pt = np.hypot(w[1], w[2])
    had = ~leptonic[:, None]
    n_t = (had & (top_pt > 400) & (rng.uniform(size=top_pt.shape) < 0.5)).sum(axis=0)
    n_w = (had & (w_pt > 200) & (top_pt <= 400) & (rng.uniform(size=w_pt.shape) < 0.45)).sum(0)
    n_t += ((pt > 400) & (rng.uniform(size=pt.shape) < 0.03)).sum(axis=1)
    n_w += ((pt > 200) & (rng.uniform(size=pt.shape) < 0.03)).sum(axis=1)
    return {"NJetsTtagged": n_t.astype(np.int32), "NJetsWtagged": n_w.astype(np.int32)}


def _bookkeeping(process: Process, lep, n: int, rng, key: str) -> dict[str, np.ndarray]:
    """Lepton flavour, triggers, scale factors and the generator weight."""
    lep_pt = np.hypot(lep[1], lep[2])
    electron = rng.uniform(size=n) < 0.5
    threshold = np.where(electron, 35.0, 27.0)
    data_trig = (lep_pt > threshold) & (rng.uniform(size=n) < 0.97)
    mc_trig = (lep_pt > threshold) & (rng.uniform(size=n) < 0.985)
    # the ECAL L1 prefiring affected 2016-2017 only
    prefire = 1.0 - np.minimum(rng.exponential(0.015, n), 0.3) if key == "2017" else np.ones(n)
    sign = np.where(rng.uniform(size=n) < process.negative_fraction, -1.0, 1.0)
    magnitude = 0.00655 if process.decay == "tttt" else 1.0
    return {
        "isElectron": electron.astype(np.int32),
        "isMuon": (~electron).astype(np.int32),
        "DataPastTriggerX": data_trig.astype(np.int32),
        "MCPastTriggerX": mc_trig.astype(np.int32),
        "triggerXSF": rng.normal(0.98, 0.02, n),
        "pileupWeight": rng.lognormal(0.0, 0.25, n),
        "lepIdSF": rng.normal(0.99, 0.015, n),
        "EGammaGsfSF": np.where(electron, rng.normal(0.99, 0.01, n), 1.0),
        "isoSF": rng.normal(0.995, 0.01, n),
        "L1NonPrefiringProb_CommonCalc": prefire,
        "MCWeight_MultiLepCalc": sign * magnitude,
    }
