"""Write the synthetic samples of the packaged default configuration as ROOT files.

Every file named by ``data/default.toml`` (signal TTTT and the ttbar categories, three
splits, for each dataset key) is written with uproot: tree ``ljmet``, the 76 variables,
the jagged ``theJetPt_JetSubCalc_PtOrdered`` and every branch the weight and selection read.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fourtop.data.config import SPLITS, default_config_path, load_config
from fourtop.data.events import Process, simulate
from fourtop.errors import ConfigError, DataError
from fourtop.fileio import atomic_output

__all__ = [
    "DEFAULT_EVENTS",
    "PRESETS",
    "SampleSize",
    "generate_samples",
    "process_of",
    "sample_files",
]

log = logging.getLogger(__name__)

#: events generated per sample file and split: ~23k selected events in a 2017 importance split
DEFAULT_EVENTS = 80_000


@dataclass(frozen=True)
class SampleSize:
    """Events generated (before the ntuple skim) per file and split: for the signal file and
    for each background file of a dataset key."""

    signal: int
    background: int

    def of(self, name: str) -> int:
        """The events generated for the sample file ``name``."""
        return self.signal if process_of(name).decay == "tttt" else self.background


#: the sizes of ``fourtop generate --preset``. ``analysis``: about a million selected events
#: per class in each split of a key (2017, measured on the default samples: the selection
#: keeps 6.3 % of the generated TTTT events and 0.22 events per generated event summed over
#: the 10 ttbar files, so 16M x 0.063 = 1.0M signal and 4.5M x 0.22 = 1.0M background)
PRESETS: dict[str, SampleSize] = {
    "default": SampleSize(DEFAULT_EVENTS, DEFAULT_EVENTS),
    "analysis": SampleSize(16_000_000, 4_500_000),
}
CHUNK = 50_000
#: largest random seed (as every --random-seed)
MAX_SEED = 2**32 - 1
JET_PT = "theJetPt_JetSubCalc_PtOrdered"
#: the event number branch (int64), as in the original LJMet ntuples
EVENT_BRANCH = "event_CommonCalc"
LUMI_PB = {"2017": 41_530.0, "2018": 59_740.0}

_DECAYS: dict[str, Process] = {
    # decay mode -> (xsec in pb, generator weight sign, spectra)
    "TTTT": Process("tttt", xsec=0.012, negative_fraction=0.28, top_pt=70.0, extra_jets=1.2),
    "TTToSemiLeptonic": Process(
        "semilep", xsec=365.3, negative_fraction=0.004, top_pt=65.0, extra_jets=3.0
    ),
    "TTToSemiLepton_HT500Njet9": Process(
        "semilep", xsec=4.8, negative_fraction=0.004, top_pt=80.0, extra_jets=4.5, extra_pt=50.0
    ),
    "TTTo2L2Nu": Process("dilep", xsec=88.3, negative_fraction=0.004, top_pt=65.0, extra_jets=3.0),
    "TTToHadronic": Process(
        "hadronic", xsec=378.0, negative_fraction=0.004, top_pt=65.0, extra_jets=3.0
    ),
}
#: fraction of the ttbar cross section in each extra-jet flavour category
_FLAVOUR_FRACTION = {"jj": 0.90, "cc": 0.06, "bb": 0.012, "2b": 0.01, "1b": 0.018}


def process_of(filename: str) -> Process:
    """The physics process of a default sample, from its file name.

    Raises:
        ConfigError: the name is not one of the synthetic samples.
    """
    stem = filename.split("_TuneCP5")[0]
    if stem not in _DECAYS:
        raise ConfigError(f"{filename}: not a synthetic sample name (know: {', '.join(_DECAYS)})")
    base = _DECAYS[stem]
    if base.decay == "tttt":
        return base
    flavour = next((f for f in _FLAVOUR_FRACTION if f"_tt{f}_" in filename), None)
    if flavour is None:
        raise ConfigError(f"{filename}: no ttjj/ttcc/ttbb/tt2b/tt1b category in the name")
    return Process(
        base.decay,
        flavour=flavour,
        xsec=base.xsec * _FLAVOUR_FRACTION[flavour],
        negative_fraction=base.negative_fraction,
        top_pt=base.top_pt,
        extra_jets=base.extra_jets,
        extra_pt=base.extra_pt,
    )


def sample_files(
    keys: Sequence[str] = ("2017", "2018"), splits: Sequence[int] = SPLITS
) -> list[tuple[str, int, str]]:
    """``(key, split, file name)`` of every synthetic sample (of ``splits``), from the default
    configuration."""
    config = load_config(default_config_path())
    out = []
    for key in keys:
        for split in splits:
            files = config.files(key, split)
            out += [(key, split, p.name) for p in (*files.signal, *files.background)]
    return out


def _stream(seed: int, key: str, split: int, name: str, chunk: int) -> np.random.Generator:
    entropy = [seed, zlib.crc32(key.encode()), split, zlib.crc32(name.encode()), chunk]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _branches(process: Process, n: int, rng, key: str, xsec_eff: float, first_event: int) -> dict:
    import awkward as ak

    ev = simulate(process, n, rng, key)
    counts, flat = ev.pop("_jet_count"), ev.pop("_jet_pt")
    # the event number (what `final`'s folds are cut by): consecutive in a file
    ev[EVENT_BRANCH] = first_event + np.arange(len(counts), dtype=np.int64)
    out: dict = {}
    for name, values in ev.items():
        if name == EVENT_BRANCH:
            out[name] = values
        elif values.dtype.kind in "iub":
            out[name] = values.astype(np.int32)
        elif name in _DOUBLE_BRANCHES:
            out[name] = values.astype(np.float64)
        else:
            out[name] = values.astype(np.float32)
    out["xsecEff"] = np.full(len(counts), xsec_eff)
    out[JET_PT] = ak.unflatten(flat, counts)
    return out


_DOUBLE_BRANCHES = {
    "triggerXSF", "pileupWeight", "lepIdSF", "EGammaGsfSF", "isoSF",
    "L1NonPrefiringProb_CommonCalc", "MCWeight_MultiLepCalc",
}  # fmt: skip


def write_sample(
    path: Path,
    process: Process,
    events: int,
    seed: int,
    key: str,
    split: int,
    advance: Callable[[int], None] | None = None,
) -> None:
    """Write one sample file atomically (a unique temporary name renamed into place).

    ``advance`` is called with the number of events after each chunk is written.

    Raises:
        OutputError: the file cannot be written (no space left, read-only folder).
    """
    import uproot

    nf = process.negative_fraction
    xsec_eff = process.xsec * LUMI_PB.get(key, 50_000.0) / (events * (1 - 2 * nf))
    next_event = first_event_number(key, split, path.name, events)
    with atomic_output(path, what="sample file") as tmp, uproot.recreate(tmp) as f:
        tree = None
        for c, start in enumerate(range(0, events, CHUNK)):
            n = min(CHUNK, events - start)
            rng = _stream(seed, key, split, path.name, c)
            branches = _branches(process, n, rng, key, xsec_eff, next_event)
            next_event += len(branches[EVENT_BRANCH])
            if tree is None:  # a TTree (uproot would write an RNTuple from a dict)
                types = {k: v.dtype for k, v in branches.items() if isinstance(v, np.ndarray)}
                types[JET_PT] = "var * float32"
                tree = f.mktree("ljmet", types, title="ljmet")
            tree.extend(branches)
            if advance is not None:
                advance(n)


def first_event_number(key: str, split: int, name: str, events: int) -> int:
    """The event number of the first event of a sample file of ``events`` generated events.

    Files start at per-file offsets a stride apart that holds every file's events (10^7, the
    next power of ten above ``events`` for larger files), so no two files of a key share an
    event number (and the files of up to 10^7 events keep the numbers they always had).
    """
    stride = max(10_000_000, 10 ** len(str(events)))
    return 1 + (zlib.crc32(f"{key}/{split}/{name}".encode()) % 100_000) * stride


def generate_samples(
    out_dir: Path,
    events: int | SampleSize = DEFAULT_EVENTS,
    seed: int = 1,
    keys: Sequence[str] = ("2017", "2018"),
    progress: Callable[[str], None] | None = None,
    advance: Callable[[int], None] | None = None,
    splits: Sequence[int] = SPLITS,
) -> list[Path]:
    """Write the synthetic samples of the default configuration into ``out_dir``.

    The files appear all at once: they are written into a staging folder (beside a new
    ``out_dir``, or inside an existing one) and moved into place when every one is complete,
    so a failure (full disk, unwritable folder) or an interrupt leaves ``out_dir`` as it was
    and removes any folder this call created; the staging folder of a killed run is removed
    by the next run. Replacing existing files needs room for both sets while writing.

    Args:
        out_dir: folder to write into (created if needed).
        events: events per sample file and split, or a :class:`SampleSize` (signal and
            background files apart; :data:`PRESETS`).
        seed: random seed (0 to 2**32 - 1); the same seed gives the same files.
        keys: dataset keys to write ("2017", "2018").
        progress: called with each file name before it is written.
        advance: called with the number of events after each chunk is written.
        splits: the splits to write (default all three); files of other splits in
            ``out_dir`` are left as they are.

    Returns:
        The paths written.

    Raises:
        DataError: ``events`` is not positive, ``seed`` is not a valid random seed or a
            split is not 0, 1 or 2.
        ConfigError: an unknown dataset key.
        OutputError: ``out_dir`` cannot be created or written (the message says why).
    """
    from fourtop.staging import check_output_folder, clean_leftovers, staged_output

    size = events if isinstance(events, SampleSize) else SampleSize(events, events)
    for n in (size.signal, size.background):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DataError(f"number of events must be positive, not {n}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise DataError(f"random seed must be a whole number from 0 to {MAX_SEED}, not {seed}")
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise DataError(f"split {bad[0] if bad else '(none)'}: the splits are 0, 1 and 2")
    samples = sample_files(keys, splits)  # an unknown key fails here, before anything is made
    out_dir = check_output_folder(out_dir, option="--output")
    clean_leftovers(out_dir)
    written = []
    with staged_output(out_dir, label="generate", what="the samples") as stage:
        for key, split, name in samples:
            if progress is not None:
                progress(name)
            n = size.of(name)
            log.info("writing %s (%d events)", out_dir / name, n)
            write_sample(stage.path(name), process_of(name), n, seed, key, split, advance)
            written.append(out_dir / name)
    return written
