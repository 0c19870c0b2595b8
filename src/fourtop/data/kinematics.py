"""Vectorized four-vector helpers and the 76 event variables computed from jets, lepton, MET.

Four-vectors are arrays whose first axis is ``(E, px, py, pz)``. Jets come as
``(n_events, n_slots)`` arrays sorted by pT, a zero pT meaning "no jet". A variable whose
objects are missing in an event (e.g. a b-jet pair with fewer than two b jets) is 0, and the
trijet discriminators are -1.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

__all__ = ["deepcsv", "p4", "two_body", "variables"]


def p4(pt, eta, phi, m) -> np.ndarray:
    """Four-vector ``(E, px, py, pz)`` from pT, eta, phi and mass."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2 + m**2), px, py, pz])


def two_body(parent: np.ndarray, m1, m2, rng: np.random.Generator):
    """Isotropic two-body decay of ``parent`` into masses m1, m2 (boosted to the lab)."""
    e, px, py, pz = parent
    mass = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 1e-9))
    arg = (mass**2 - (m1 + m2) ** 2) * (mass**2 - (m1 - m2) ** 2)
    q = np.sqrt(np.maximum(arg, 0.0)) / (2 * mass)
    cos = rng.uniform(-1, 1, mass.shape)
    sin = np.sqrt(1 - cos**2)
    phi = rng.uniform(-np.pi, np.pi, mass.shape)
    d = np.stack([q * sin * np.cos(phi), q * sin * np.sin(phi), q * cos])
    bx, by, bz = px / e, py / e, pz / e
    gamma = e / mass
    out = []
    for m, sign in ((m1, 1.0), (m2, -1.0)):
        dx, dy, dz = sign * d
        ed = np.sqrt(q**2 + m**2)
        bp = bx * dx + by * dy + bz * dz
        b2 = np.maximum(bx**2 + by**2 + bz**2, 1e-12)
        k = (gamma - 1) * bp / b2 + gamma * ed
        out.append(np.stack([gamma * (ed + bp), dx + k * bx, dy + k * by, dz + k * bz]))
    return out[0], out[1]


def deepcsv(flavour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A DeepCSV-like b-tag score in [0, 1] by parton flavour (5 = b, 4 = c, else light)."""
    score = np.where(
        flavour == 5,
        rng.beta(5.0, 1.3, flavour.shape),
        np.where(
            flavour == 4, rng.beta(1.4, 3.0, flavour.shape), rng.beta(0.6, 9.0, flavour.shape)
        ),
    )
    return np.where(flavour == 0, 0.0, score)


def _mass(e, px, py, pz):
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))


def _dphi(a, b):
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def _eta(px, py, pz):
    return np.arcsinh(pz / np.maximum(np.hypot(px, py), 1e-9))


def _pick(values, key, mask, largest=False):
    """Per event, ``values`` where ``key`` is smallest (largest) among ``mask``; 0 if none."""
    k = np.where(mask, -key if largest else key, np.inf)
    i = np.argmin(k, axis=1)
    got = np.take_along_axis(values, i[:, None], axis=1)[:, 0]
    return np.where(mask.any(axis=1), got, 0.0)


def _nth(values, mask, k):
    """The k-th (0-based) entry of ``values`` among ``mask`` in slot order; 0 if none."""
    rank = np.cumsum(mask, axis=1) - 1
    sel = mask & (rank == k)
    return np.where(
        sel.any(axis=1), np.take_along_axis(values, sel.argmax(1)[:, None], 1)[:, 0], 0.0
    )


def _mt(pt1, phi1, pt2, phi2, m1=0.0):
    et1 = np.sqrt(pt1**2 + m1**2)
    return np.sqrt(np.maximum(m1**2 + 2 * (et1 * pt2 - pt1 * pt2 * np.cos(phi1 - phi2)), 0.0))


def _mt2(b1, b2, met_x, met_y):
    """MT2 of two visible objects and MET, minimised on a grid of invisible-momentum splits."""
    grid = np.linspace(-0.5, 1.5, 9)
    best = np.full(met_x.shape, np.inf)
    m1 = _mass(*b1)
    m2 = _mass(*b2)
    pt1, phi1 = np.hypot(b1[1], b1[2]), np.arctan2(b1[2], b1[1])
    pt2, phi2 = np.hypot(b2[1], b2[2]), np.arctan2(b2[2], b2[1])
    for a in grid:
        for c in grid - 0.5:
            qx = a * met_x - c * met_y
            qy = a * met_y + c * met_x
            rx, ry = met_x - qx, met_y - qy
            t1 = _mt(pt1, phi1, np.hypot(qx, qy), np.arctan2(qy, qx), m1)
            t2 = _mt(pt2, phi2, np.hypot(rx, ry), np.arctan2(ry, rx), m2)
            best = np.minimum(best, np.maximum(t1, t2))
    return best


def variables(pt, eta, phi, mass, csv, wp, lep, met_x, met_y, rng) -> dict[str, np.ndarray]:
    """The 76 variables of the original analysis from the event's objects."""
    n, width = pt.shape
    jet = pt > 0
    tag = jet & (csv > wp)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    le, lx, ly, lz = lep
    lpt, lphi, leta = np.hypot(lx, ly), np.arctan2(ly, lx), _eta(lx, ly, lz)
    met, met_phi = np.hypot(met_x, met_y), np.arctan2(met_y, met_x)
    v: dict[str, np.ndarray] = {}
    ht = pt.sum(axis=1)
    v["AK4HT"] = ht
    v["corr_met_MultiLepCalc"] = met
    v["leptonPt_MultiLepCalc"] = lpt
    v["AK4HTpMETpLepPt"] = ht + met + lpt
    v["MT_lepMet"] = _mt(lpt, lphi, met, met_phi)
    v["NJets_JetSubCalc"] = jet.sum(axis=1).astype(np.int32)
    v["NJetsCSVwithSF_MultiLepCalc"] = tag.sum(axis=1).astype(np.int32)
    col = lambda a, k: a[:, k] if k < width else np.zeros(n)  # noqa: E731
    v["theJetLeadPt"], v["secondJetPt"] = col(pt, 0), col(pt, 1)
    v["fifthJetPt"], v["sixthJetPt"] = col(pt, 4), col(pt, 5)
    v["PtFifthJet"] = v["fifthJetPt"]
    v["csvJet3"], v["csvJet4"] = col(csv, 2), col(csv, 3)
    ranked = -np.sort(-csv, axis=1)
    for k, name in enumerate(("first", "second", "third", "fourth")):
        v[f"{name}csvb_bb"] = col(ranked, k)
    v["HT_bjets"] = np.where(tag, pt, 0).sum(axis=1)
    v["BJetLeadPt"] = _nth(pt, tag, 0)
    v["HT_2m"] = ht - _nth(pt, tag, 0) - _nth(pt, tag, 1)
    v["ratio_HTdHT4leadjets"] = ht / np.maximum(pt[:, :4].sum(axis=1), 1e-9)
    v["aveCSVpt"] = (csv * pt).sum(axis=1) / np.maximum(ht, 1e-9)
    v["centrality"] = (ht + lpt) / np.maximum(e.sum(axis=1) + le, 1e-9)
    v["hemiout"] = np.where(jet & (np.abs(_dphi(phi, lphi[:, None])) > np.pi / 2), pt, 0).sum(1)
    # lepton-jet
    dr_lj = np.hypot(eta - leta[:, None], _dphi(phi, lphi[:, None]))
    dphi_lj = np.abs(_dphi(phi, lphi[:, None]))
    m_lj = _mass(e + le[:, None], px + lx[:, None], py + ly[:, None], pz + lz[:, None])
    pt_lj = np.hypot(px + lx[:, None], py + ly[:, None])
    v["minDR_lepJet"] = _pick(dr_lj, dr_lj, jet)
    v["minDR_lepBJet"] = _pick(dr_lj, dr_lj, tag)
    for k in range(3):
        v[f"mass_lepJets{k}"] = np.where(col(pt, k) > 0, col(m_lj, k), 0.0)
    v["mass_lepBJet0"] = _nth(m_lj, tag, 0)
    v["mass_lepBJet_mindr"] = _pick(m_lj, dr_lj, tag)
    v["minMleppBjet"] = _pick(m_lj, m_lj, tag)
    v["deltaR_lepJetInMinMljet"] = _pick(dr_lj, m_lj, jet)
    v["deltaPhi_lepJetInMinMljet"] = _pick(dphi_lj, m_lj, jet)
    v["deltaR_lepbJetInMinMlb"] = _pick(dr_lj, m_lj, tag)
    v["deltaPhi_lepbJetInMinMlb"] = _pick(dphi_lj, m_lj, tag)
    v["deltaR_lepBJet_maxpt"] = _pick(dr_lj, pt_lj, tag, largest=True)
    # jet pairs
    i, j = np.triu_indices(width, 1)
    both_b, both_l = tag[:, i] & tag[:, j], jet[:, i] & jet[:, j] & ~tag[:, i] & ~tag[:, j]
    dr = np.hypot(eta[:, i] - eta[:, j], _dphi(phi[:, i], phi[:, j]))
    sx, sy, sz, se = (
        px[:, i] + px[:, j],
        py[:, i] + py[:, j],
        pz[:, i] + pz[:, j],
        e[:, i] + e[:, j],
    )
    mjj = _mass(se, sx, sy, sz)
    v["deltaR_minBB"] = _pick(dr, dr, both_b)
    v["mass_minBBdr"] = _pick(mjj, dr, both_b)
    v["aveBBdr"] = np.where(both_b, dr, 0).sum(1) / np.maximum(both_b.sum(1), 1)
    v["deltaEta_maxBB"] = _pick(np.abs(eta[:, i] - eta[:, j]), np.abs(eta[:, i] - eta[:, j]),
                                both_b, largest=True)  # fmt: skip
    v["mass_maxBBmass"] = _pick(mjj, mjj, both_b, largest=True)
    dr_l_bb = np.hypot(_eta(sx, sy, sz) - leta[:, None], _dphi(np.arctan2(sy, sx), lphi[:, None]))
    v["lepDR_minBBdr"] = _pick(dr_l_bb, dr, both_b)
    v["mass_minLLdr"] = _pick(mjj, dr, both_l)
    # all jets + lepton + neutrino (W-mass constraint on pz)
    v["M_allJet_W"] = _mass(e.sum(1) + le, px.sum(1) + lx, py.sum(1) + ly, pz.sum(1) + lz)
    v["M_allJet_W"] = _add_neutrino(v["M_allJet_W"], e, px, py, pz, lep, met_x, met_y)
    # event shapes
    v.update(_shapes(px, py, pz, jet, lep))
    # MT2 of the two leading b jets
    b1 = np.stack([_nth(a, tag, 0) for a in (e, px, py, pz)])
    b2 = np.stack([_nth(a, tag, 1) for a in (e, px, py, pz)])
    v["MT2bb"] = np.where(tag.sum(1) >= 2, _mt2(b1, b2, met_x, met_y), 0.0)
    v.update(_trijets(pt, eta, phi, e, px, py, pz, csv, jet, rng))
    return v


def _add_neutrino(_m, e, px, py, pz, lep, met_x, met_y):
    le, lx, ly, lz = lep
    mw = 80.4
    lpt2 = lx**2 + ly**2
    mu = mw**2 / 2 + lx * met_x + ly * met_y
    a = mu * lz / np.maximum(lpt2, 1e-9)
    disc = a**2 - (le**2 * (met_x**2 + met_y**2) - mu**2) / np.maximum(lpt2, 1e-9)
    root = np.sqrt(np.maximum(disc, 0.0))
    nz = np.where(np.abs(a - root) < np.abs(a + root), a - root, a + root)
    ne = np.sqrt(met_x**2 + met_y**2 + nz**2)
    return _mass(e.sum(1) + le + ne, px.sum(1) + lx + met_x, py.sum(1) + ly + met_y,
                 pz.sum(1) + lz + nz)  # fmt: skip


def _shapes(px, py, pz, jet, lep) -> dict[str, np.ndarray]:
    """Sphericity, aplanarity (jets and lepton) and Fox-Wolfram moments H_l / sum|p| (jets)."""
    ax = np.concatenate([px, lep[1][:, None]], 1)
    ay = np.concatenate([py, lep[2][:, None]], 1)
    az = np.concatenate([pz, lep[3][:, None]], 1)
    p = np.stack([ax, ay, az], -1)  # (n, k, 3)
    tensor = np.einsum("nki,nkj->nij", p, p) / np.maximum((p**2).sum((1, 2)), 1e-9)[:, None, None]
    lam = np.linalg.eigvalsh(tensor)  # ascending
    out = {"Sphericity": 1.5 * (lam[:, 0] + lam[:, 1]), "Aplanarity": 1.5 * lam[:, 0]}
    px, py, pz, jet = px[:, :10], py[:, :10], pz[:, :10], jet[:, :10]
    mag = np.sqrt(px**2 + py**2 + pz**2) * jet
    unit = np.stack([px, py, pz], -1) / np.maximum(mag, 1e-9)[..., None]
    cos = np.clip(np.einsum("nki,nli->nkl", unit, unit), -1, 1)
    ww = mag[:, :, None] * mag[:, None, :]
    norm = np.maximum(mag.sum(1), 1e-9)
    p_prev, p_cur = 1.0, cos
    out["FW_momentum_0"] = ww.sum((1, 2)) / norm
    out["FW_momentum_1"] = np.einsum("nkl,nkl->n", ww, p_cur) / norm
    for ell in range(2, 7):
        p_prev, p_cur = p_cur, ((2 * ell - 1) * cos * p_cur - (ell - 1) * p_prev) / ell
        out[f"FW_momentum_{ell}"] = np.einsum("nkl,nkl->n", ww, p_cur) / norm
    return out


_TRIPLETS = np.array(list(combinations(range(8), 3)))
_TRIPLETS_REST = np.array(list(combinations(range(6), 3)))


def _candidates(arrs, t, rng):
    """Chi2-like top discriminators of the jet triplets ``t`` (``(n_triplets, 3)`` slot
    indices into ``arrs``, the jets' ``(e, px, py, pz, csv, exists)``): the
    per-triplet score (-2 where a jet is missing), validity and the kinematics used by the
    candidate properties."""
    e, px, py, pz, csv, jet = arrs
    sel = lambda a: a[:, t]  # noqa: E731  (n, n_triplets, 3)
    ok = sel(jet).all(-1)
    c3 = sel(csv)
    bpos = np.argmax(c3, axis=-1)  # the b candidate: highest score in the triplet
    onehot = np.eye(3, dtype=bool)[bpos]
    se, sx, sy, sz = (sel(a).sum(-1) for a in (e, px, py, pz))
    de, dx, dy, dz = (np.where(onehot, 0, sel(a)).sum(-1) for a in (e, px, py, pz))
    m3, m2 = _mass(se, sx, sy, sz), _mass(de, dx, dy, dz)
    csv_b = np.take_along_axis(c3, bpos[..., None], -1)[..., 0]
    chi2 = ((m3 - 172.5) / 25) ** 2 + ((m2 - 80.4) / 15) ** 2
    score = 2 * np.exp(-chi2 / 2) * (0.4 + 0.6 * csv_b) - 1 + rng.normal(0, 0.05, m3.shape)
    score = np.where(ok, np.clip(score, -1, 1), -2.0)
    return score, ok, (sel, bpos, sx, sy, sz, dx, dy, dz, m3, m2, csv_b)


def _greedy(score, ok, member, picks):
    """Per event, the ``picks`` best-scoring valid triplets that share no jet, in order:
    a list of (triplet index, exists) pairs; ``member`` is the (n_triplets, n_slots) map."""
    n = len(score)
    rows = np.arange(n)
    used = np.zeros((n, member.shape[1]), dtype=bool)
    avail = ok.copy()
    chosen = []
    for _ in range(picks):
        best = np.argmax(np.where(avail, score, -3.0), axis=1)
        has = avail[rows, best]
        chosen.append((best, has))
        used |= member[best] & has[:, None]
        avail &= ~(member[None] & used[:, None, :]).any(-1)
    return chosen, used


def _membership(t, slots):
    member = np.zeros((len(t), slots), dtype=bool)
    member[np.arange(len(t))[:, None], t] = True
    return member


_MEMBER = _membership(_TRIPLETS, 8)
_MEMBER_REST = _membership(_TRIPLETS_REST, 6)


def _trijets(pt, eta, phi, e, px, py, pz, csv, jet, rng) -> dict[str, np.ndarray]:
    """Hadronic-top candidates: a chi2-like discriminator in [-1, 1], the best four
    non-overlapping candidates, and properties of the best two.

    The best two come from the triplets of the 8 leading jets; the third and fourth from
    the triplets of the (up to 6) jets among the 12 leading ones that the best two leave
    unused, so they exist only in events with at least 9 and 12 jets.
    """
    n, width = pt.shape
    pad = max(0, 12 - width)
    arrs12 = [
        np.pad(a[:, :12], ((0, 0), (0, pad))) for a in (pt, eta, phi, e, px, py, pz, csv, jet)
    ]
    arrs8 = [a[:, :8] for a in arrs12]
    score, ok, (sel, bpos, sx, sy, sz, dx, dy, dz, m3, m2, csv_b) = _candidates(
        arrs8[3:], _TRIPLETS, rng
    )
    rows = np.arange(n)
    pt3 = np.hypot(sx, sy)
    out: dict[str, np.ndarray] = {"mass_maxJJJpt": _pick(m3, pt3, ok, largest=True)}
    chosen, used8 = _greedy(score, ok, _MEMBER, 2)
    # the 3rd and 4th: the first 6 unused jets (pT order) among the 12 leading ones
    free = arrs12[-1].astype(bool)
    free[:, :8] &= ~used8
    slots = np.argsort(~free, axis=1, kind="stable")[:, :6]
    rest = [np.take_along_axis(a, slots, axis=1) for a in arrs12[3:-1]]
    rest.append(np.take_along_axis(free, slots, axis=1))
    score_r, ok_r, _ = _candidates(rest, _TRIPLETS_REST, rng)
    chosen_r, _ = _greedy(score_r, ok_r, _MEMBER_REST, 2)
    for k, (best, has) in enumerate(chosen):
        out[f"BDTtrijet{k + 1}"] = np.where(has, score[rows, best], -1.0)
    for k, (best, has) in enumerate(chosen_r):
        out[f"BDTtrijet{k + 3}"] = np.where(has, score_r[rows, best], -1.0)
    out["NresolvedTops1pFake"] = sum(
        (out[f"BDTtrijet{k + 1}"] > 0.6).astype(np.int32) for k in range(4)
    ).astype(np.int32)
    pt8, eta8, phi8 = arrs8[:3]
    teta, tphi = _eta(sx, sy, sz), np.arctan2(sy, sx)
    deta, dphi = _eta(dx, dy, dz), np.arctan2(dy, dx)
    beta = np.take_along_axis(sel(eta8), bpos[..., None], -1)[..., 0]
    bphi = np.take_along_axis(sel(phi8), bpos[..., None], -1)[..., 0]
    quantities = {
        "mass": m3,
        "dijetmass": m2,
        "pTratio": pt3 / np.maximum(sel(pt8).sum(-1), 1e-9),
        "dRtridijet": np.hypot(teta - deta, _dphi(tphi, dphi)),
        "csvJetnotdijet": csv_b,
        "dRtrijetJetnotdijet": np.hypot(teta - beta, _dphi(tphi, bphi)),
    }
    for k in range(2):
        best, has = chosen[k]
        for name, q in quantities.items():
            out[f"HOTGoodTrijet{k + 1}_{name}"] = np.where(has, q[rows, best], 0.0)
    return out
