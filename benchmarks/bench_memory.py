"""Memory of two workers training on one large split: the memory-mapped cache vs the old .npz.

    python benchmarks/bench_memory.py [--arrays FILE | --samples DIR] [--events 1000000]
                                      [--vars 20] [--members 5] [--epochs 1]

The data: ``--arrays FILE``, a cache file of a split (an arrays file); or ``--samples DIR``,
the 2017 importance split of samples written by ``fourtop generate --preset analysis -y 2017
--split 0 -o DIR`` (loaded through the cache, built on the first run); by default the 2017
importance split of the default samples (``fourtop generate``), resampled with replacement to
``--events`` selected events per class (76 float32 variables, the size of the analysis preset,
in minutes instead of the preset's hours). The same arrays are also written as the ``.npz`` of
the cache before the arrays file (cache version 1), into a scratch folder under /tmp.

For each format, two worker processes start at once, as two local workers do: each loads the
split (``read_cache_file``: the arrays file is mapped, the .npz read), reads every page of it
once (a sum), waits 3 s for the other to do the same, then trains a seed family (``--vars``
variables, the seed and ``--members`` - 1 subseeds, ``--epochs`` epochs, the default network)
with ``train_members``. Each reports its load time, its RSS and PSS with the data loaded and
touched (``data``: the python and torch runtime, ~240 MiB RSS, plus the events), and its
peak RSS (the kernel's high-water mark) and peak PSS (sampled every 0.2 s): the peak minus the
``data`` figure is what the training's own copies cost (``train/fit.py``: the seed's
standardized columns, a shuffled copy per epoch, evaluation). The parent
samples the machine's used memory (MemTotal - MemAvailable: the mapped cache is page cache,
which counts as available, so it shows the private memory) and its rise over the figure before
the workers started, and the two workers' RSS and PSS added up at the same instant (row
``both``: the peak PSS of that sum is the memory the two use together; a worker's own peak PSS
may come after the other has ended, when the shared pages are all its own). The files are
read once beforehand, so both formats load from the page cache. Run on an idle machine for
clean machine figures; the per-process ones do not depend on other work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MIB = 1024 * 1024


def _kib(path: str, field: str) -> int:
    with open(path, encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _used() -> int:
    return _kib("/proc/meminfo", "MemTotal") - _kib("/proc/meminfo", "MemAvailable")


def worker(args: argparse.Namespace) -> None:
    """One worker: load, train one family, print a JSON line of its figures."""
    import numpy as np
    import torch

    from fourtop.data.arrayfile import is_memory_mapped
    from fourtop.data.ntuples import read_cache_file
    from fourtop.jobs.memory import MemoryWatch
    from fourtop.train.fit import train_members
    from fourtop.train.params import NetworkParams

    torch.set_num_threads(1)
    with MemoryWatch() as watch:
        start = time.perf_counter()
        data = read_cache_file(args.worker)
        load_s = time.perf_counter() - start
        # every page of the events once (what training on all variables touches), then a
        # pause so that the other worker has touched them too: the data's own memory
        checksum = float(data.signal.sum(dtype=np.float64) + data.background.sum(dtype=np.float64))
        time.sleep(3)
        after_load = {
            "rss": _kib("/proc/self/status", "VmRSS"),
            "pss": _kib("/proc/self/smaps_rollup", "Pss"),
        }
        rng = np.random.default_rng(args.index)
        seed = sorted(rng.choice(len(data.variables), args.vars, replace=False))
        seed_vars = [data.variables[i] for i in seed]
        members = [seed_vars] + [[v for v in seed_vars if v != x] for x in seed_vars]
        members = members[: args.members]
        params = NetworkParams(epochs=args.epochs)
        start = time.perf_counter()
        results = train_members(data, seed_vars, members, params, random_seed=args.index)
        train_s = time.perf_counter() - start
        figures = {
            "load_s": load_s,
            "mapped": is_memory_mapped(data.signal),
            "events": [len(data.signal), len(data.background)],
            "after_load": after_load,
            "peak_rss": watch.peak_rss(),
            "peak_pss": watch.peak_pss(),
            "train_s": train_s,
            "roc": [r.roc_integral for r in results],
            "checksum": checksum,
        }
    print(json.dumps(figures), flush=True)


def _resampled(path: Path, events: int) -> None:
    """The default 2017 importance split resampled to ``events`` per class, as a cache file."""
    import numpy as np

    from fourtop.data.config import load_config
    from fourtop.data.ntuples import SplitArrays, load_split, write_cache_file

    small = load_split(load_config(None), "2017", 0)
    rng = np.random.default_rng(1)
    picks = {
        what: rng.integers(0, len(getattr(small, f"{what}_weight")), events)
        for what in ("signal", "background")
    }
    arrays = SplitArrays(
        small.variables,
        np.asarray(small.signal)[picks["signal"]],
        np.asarray(small.signal_weight)[picks["signal"]],
        np.asarray(small.background)[picks["background"]],
        np.asarray(small.background_weight)[picks["background"]],
    )
    write_cache_file(path, arrays)


def _as_npz(source: Path, path: Path) -> None:
    """The same arrays as the .npz the cache was before the arrays file (cache version 1)."""
    import numpy as np

    from fourtop.data.ntuples import read_cache_file

    a = read_cache_file(source)
    with open(path, "wb") as fh:
        np.savez(
            fh,
            variables=np.asarray(a.variables),
            signal=a.signal,
            signal_weight=a.signal_weight,
            background=a.background,
            background_weight=a.background_weight,
        )


def _rollup(pid: int) -> tuple[int, int]:
    """RSS and PSS of process ``pid`` in bytes (0, 0 once it has ended)."""
    try:
        return _kib(f"/proc/{pid}/smaps_rollup", "Rss"), _kib(f"/proc/{pid}/smaps_rollup", "Pss")
    except (OSError, KeyError):
        return 0, 0


def _two_workers(path: Path, args: argparse.Namespace) -> tuple[list[dict], dict[str, int]]:
    """Run two workers on ``path`` at once; their figures, and what the parent sampled: the
    machine's used memory before and at its peak, and the peak of the two workers' RSS and
    PSS added up at the same instant (a worker's own peak may come after the other ended,
    when the shared pages are all its own)."""
    sampled = {"before": _used(), "used": 0, "rss": 0, "pss": 0}
    sampled["used"] = sampled["before"]
    done = threading.Event()
    procs: list[subprocess.Popen] = []

    def watch() -> None:
        while not done.wait(0.1):
            sampled["used"] = max(sampled["used"], _used())
            figures = [_rollup(p.pid) for p in procs]
            sampled["rss"] = max(sampled["rss"], sum(f[0] for f in figures))
            sampled["pss"] = max(sampled["pss"], sum(f[1] for f in figures))

    command = [sys.executable, __file__, "--worker", str(path), "--vars", str(args.vars)]
    command += ["--members", str(args.members), "--epochs", str(args.epochs)]
    procs += [
        subprocess.Popen([*command, "--index", str(i)], stdout=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    sampler = threading.Thread(target=watch, daemon=True)
    sampler.start()
    outs = [p.communicate()[0] for p in procs]
    done.set()
    sampler.join()
    if any(p.returncode for p in procs):
        sys.exit(f"a worker failed: {[p.returncode for p in procs]}")
    return [json.loads(o.strip().splitlines()[-1]) for o in outs], sampled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arrays", type=Path, help="a cache file (arrays file) to train on")
    parser.add_argument("--samples", type=Path, help="samples of `generate --preset analysis`")
    parser.add_argument("--events", type=int, default=1_000_000, help="per class, resampled")
    parser.add_argument("--vars", type=int, default=20, help="variables of the seed")
    parser.add_argument("--members", type=int, default=5, help="networks of the family")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    scratch = args.scratch / "fourtop-bench-memory"
    scratch.mkdir(parents=True, exist_ok=True)
    if args.arrays is not None:
        source = args.arrays
    elif args.samples is not None:
        from fourtop.data.config import load_config
        from fourtop.data.ntuples import cache_path, load_split

        os.environ["FOURTOP_DATA"] = str(args.samples)
        config = load_config(None)
        start = time.perf_counter()
        load_split(config, "2017", 0)
        print(f"2017 split 0 of {args.samples} loaded in {time.perf_counter() - start:.1f} s")
        source = cache_path(config, "2017", 0)
    else:
        source = scratch / f"resampled_{args.events}.arrays"
        if not source.is_file():
            start = time.perf_counter()
            _resampled(source, args.events)
            print(f"wrote {source} in {time.perf_counter() - start:.1f} s")
    npz = scratch / f"{source.stem}.npz"
    if not npz.is_file() or npz.stat().st_mtime < source.stat().st_mtime:
        start = time.perf_counter()
        _as_npz(source, npz)
        print(f"wrote {npz} (the old cache format) in {time.perf_counter() - start:.1f} s")
    for path in (source, npz):  # both from the page cache, not the disk
        with open(path, "rb") as fh:
            while fh.read(64 * MIB):
                pass
    print(
        f"arrays file {source.stat().st_size / MIB:.0f} MiB, npz {npz.stat().st_size / MIB:.0f}"
        f" MiB; each worker: a family of {args.members} networks on {args.vars} variables, "
        f"{args.epochs} epoch(s)"
    )
    rows = []
    for label, path in (("mmap", source), ("npz", npz)):
        figures, sampled = _two_workers(path, args)
        rows.append((label, figures, sampled))
    head = (
        f"{'cache':<6}{'worker':>7}{'load':>10}{'RSS data':>10}{'PSS data':>10}"
        f"{'peak RSS':>10}{'peak PSS':>10}{'train':>8}  machine used (rise)"
    )
    print(head)
    print("-" * len(head))
    for label, figures, sampled in rows:
        for i, f in enumerate(figures):
            machine = ""
            if i == 0:
                rise = sampled["used"] - sampled["before"]
                machine = f"{sampled['used'] / MIB:,.0f} MiB (+{rise / MIB:,.0f})"
            load = f"{f['load_s'] * 1000:.1f} ms" if f["load_s"] < 1 else f"{f['load_s']:.2f} s"
            print(
                f"{label:<6}{i:>7}{load:>10}"
                f"{f['after_load']['rss'] / MIB:>10,.0f}{f['after_load']['pss'] / MIB:>10,.0f}"
                f"{f['peak_rss'] / MIB:>10,.0f}{f['peak_pss'] / MIB:>10,.0f}"
                f"{f['train_s']:>7.0f}s"
                f"  {machine}"
            )
        data_rss = sum(f["after_load"]["rss"] for f in figures)
        data_pss = sum(f["after_load"]["pss"] for f in figures)
        print(
            f"{'':<6}{'both':>7}{'':>10}{data_rss / MIB:>10,.0f}{data_pss / MIB:>10,.0f}"
            f"{sampled['rss'] / MIB:>10,.0f}{sampled['pss'] / MIB:>10,.0f}"
            "   (peaks: of the sum at one instant)"
        )
    events = rows[0][1][0]["events"]
    print(f"(MiB; {events[0]:,} signal and {events[1]:,} background events; mapped: "
          f"{[f['mapped'] for f in rows[0][1]]}; ROC integrals {rows[0][1][0]['roc'][0]:.4f}, "
          f"{rows[0][1][1]['roc'][0]:.4f})")  # fmt: skip


if __name__ == "__main__":
    main()
