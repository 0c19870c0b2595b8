"""Data-layer speed: events generated per second, and loading a split from ROOT vs the cache.

    python benchmarks/bench_data.py [--events 1000000]

Generation: the 11 samples of one split of 2017 with --events/11 events each (ROOT files
written). Loading: the importance split (2017, split 0) of those files, first from the ROOT
files (selection, weights, 76 columns; the baseline), then from the cache file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    from fourtop.data.config import load_config
    from fourtop.data.generate import process_of, sample_files, write_sample
    from fourtop.data.ntuples import load_split

    files = [(k, s, n) for k, s, n in sample_files(["2017"]) if s == 0]
    per_file = args.events // len(files)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "samples"
        out.mkdir()
        start = time.perf_counter()
        for key, split, name in files:
            write_sample(out / name, process_of(name), per_file, 1, key, split)
        gen = time.perf_counter() - start
        total = per_file * len(files)
        print(f"generate: {total} events in {gen:.1f} s = {total / gen:,.0f} events/s")
        os.environ["FOURTOP_DATA"] = str(out)
        config = load_config(None)
        cache = Path(tmp) / "cache"
        start = time.perf_counter()
        arrays = load_split(config, "2017", 0, cache_dir=cache)
        from_root = time.perf_counter() - start
        start = time.perf_counter()
        load_split(config, "2017", 0, cache_dir=cache)
        from_cache = time.perf_counter() - start
        n = len(arrays.signal) + len(arrays.background)
        print(f"load 2017 split 0 from ROOT (baseline): {from_root:.2f} s ({n} selected events)")
        print(f"load 2017 split 0 from cache:           {from_cache * 1000:.1f} ms "
              f"({from_root / from_cache:,.0f}x faster)")  # fmt: skip


if __name__ == "__main__":
    main()
