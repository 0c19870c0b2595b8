"""Trijet top candidates of the synthetic events: the 3rd and 4th use jets beyond the 8th."""

from __future__ import annotations

import numpy as np

from fourtop.data import kinematics as kin
from fourtop.data.events import simulate
from fourtop.data.generate import _stream, process_of

TTTT = "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0.root"


def _tttt(n: int) -> dict[str, np.ndarray]:
    return simulate(process_of(TTTT), n, _stream(5, "2017", 0, TTTT, 0), "2017")


def test_third_trijet_takes_values_exactly_where_nine_jets_allow_it():
    ev = _tttt(4000)
    njets, bdt3, bdt4 = ev["NJets_JetSubCalc"], ev["BDTtrijet3"], ev["BDTtrijet4"]
    assert (bdt3[njets < 9] == -1).all()
    assert (bdt4[njets < 12] == -1).all()
    rich = bdt3[njets >= 9]
    assert len(rich) > 100 and len(np.unique(rich)) > len(rich) // 2  # not constant
    assert (rich >= -1).all() and (rich <= 1).all()
    assert (rich > -1).mean() > 0.5  # a real candidate, not the "missing" value
    counted = sum((ev[f"BDTtrijet{k}"] > 0.6).astype(int) for k in range(1, 5))
    assert (ev["NresolvedTops1pFake"] == counted).all()


def _jets(parts: np.ndarray, csv: np.ndarray):
    """``kin._trijets`` arguments for jets given as four-vectors ``(4, n, slots)``."""
    e, px, py, pz = parts
    pt = np.hypot(px, py)
    order = np.argsort(-pt, axis=1)
    e, px, py, pz, pt, csv = (np.take_along_axis(a, order, 1) for a in (e, px, py, pz, pt, csv))
    eta, phi = kin._eta(px, py, pz), np.arctan2(py, px)
    return pt, eta, phi, e, px, py, pz, csv, pt > 0


def _four_tops(n: int, rng: np.random.Generator):
    """12 jets of four hadronic tops (b with a high b-tag score) per event."""
    tops = kin.p4(
        np.array([500.0, 450.0, 120.0, 100.0])[:, None] * rng.uniform(0.9, 1.1, (4, n)),
        rng.normal(0, 1, (4, n)),
        rng.uniform(-np.pi, np.pi, (4, n)),
        np.full((4, n), 172.5),
    )
    b, w = kin.two_body(tops, np.full((4, n), 4.8), np.full((4, n), 80.4), rng)
    q1, q2 = kin.two_body(w, np.zeros((4, n)), np.zeros((4, n)), rng)
    parts = np.concatenate([b, q1, q2], axis=1).transpose(0, 2, 1)  # (4, n, 12)
    csv = np.concatenate([np.full((4, n), 0.95), np.full((8, n), 0.05)]).T
    return parts, csv


def test_third_and_fourth_trijets_find_the_tops_among_the_softer_jets():
    rng = np.random.default_rng(11)
    parts, csv = _four_tops(300, rng)
    out = kin._trijets(*_jets(parts, csv), np.random.default_rng(0))
    bdt3, bdt4 = out["BDTtrijet3"], out["BDTtrijet4"]
    # the greedy choice among the 8 leading jets sometimes takes jets of the soft tops
    assert (bdt3 > -1).all() and (bdt3 > 0.6).mean() > 0.7
    assert (bdt4 > -1).mean() > 0.5 and len(np.unique(bdt4)) > 100
    assert (bdt3 >= bdt4).all()  # greedy: the best remaining candidate comes first


def test_jets_beyond_the_eighth_change_only_the_third_and_fourth_candidates():
    rng = np.random.default_rng(12)
    parts, csv = _four_tops(200, rng)
    full = kin._trijets(*_jets(parts, csv), np.random.default_rng(0))
    eleven = _jets(parts, csv)
    eleven = tuple(np.where(np.arange(12) < 11, a, 0).astype(a.dtype) for a in eleven)
    cut = kin._trijets(*eleven, np.random.default_rng(0))
    assert (cut["BDTtrijet4"] == -1).all() and (cut["BDTtrijet3"] > -1).all()
    for name in full:
        if name not in ("BDTtrijet3", "BDTtrijet4", "NresolvedTops1pFake"):
            np.testing.assert_array_equal(full[name], cut[name], err_msg=name)
