"""``fourtop apply`` speed: events per second scored and written, ONNX Runtime vs PyTorch.

    python benchmarks/bench_apply.py [--events 80000] [--big 1000000] [--variables 76]

Data: the 2017 samples of the default configuration (``fourtop generate``'s 33 files, with
--events events generated per file; the default is what ``fourtop generate`` writes), and
one TTTT file of --big events. Model: a final folder with k = 5 fold models of the default
network (3 x 100, batch normalization) over the first --variables variables, random weights
(speed does not depend on what the network learnt).

Measured in one run, on each data set:
  0. the baselines: reading the model's variables and the event key alone (the I/O floor
     every engine pays), and inference alone on arrays in memory, ONNX Runtime vs PyTorch;
  1. ``score_file`` end to end (read, score by fold, write the friend tree) with each engine,
     and with ``--copy`` (every branch written again);
  2. on the default data, the whole command (``fourtop.apply.apply``) on the local pool;
  3. the peak memory of scoring the big file, in a child process, against a small file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

K = 5


def _plan(config, final: Path, out: Path, files, *, copy: bool, engine: str):
    from fourtop.apply.plan import ApplyPlan
    from fourtop.apply.record import model_id
    from fourtop.final.model import CARD_FILE

    out.mkdir(parents=True, exist_ok=True)
    return ApplyPlan(
        model_folder=str(final),
        model_id=model_id(final / CARD_FILE),
        engine=engine,
        tree=config.tree,
        event_id=config.event_id,
        branch="DNN",
        copy=copy,
        key="2017",
        config=str(config.path),
        output_dir=str(out),
        files=list(files),
    )


def read_only(paths, variables, tree: str) -> tuple[int, float]:
    """Entries and seconds to read the variables and the key in apply's chunks (no scoring)."""
    import uproot

    from fourtop.apply.scoring import STEP

    start, n = time.perf_counter(), 0
    for path in paths:
        with uproot.open(path) as f:
            for chunk in f[tree].iterate([*variables, "event_CommonCalc"], step_size=STEP):
                n += len(chunk)
    return n, time.perf_counter() - start


def inference_only(model, n: int) -> dict[str, float]:
    """Events per second of each engine on arrays in memory (chunks of apply's size)."""
    from fourtop.apply.scoring import STEP

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, len(model.variables))).astype(np.float32)
    keys = rng.integers(0, 10**9, n)
    rates = {}
    for engine in ("torch", "onnx"):
        scorer = model.scorer(engine)
        scorer.score(x[:STEP], keys[:STEP])  # warm up (ONNX Runtime sizes its buffers)
        start = time.perf_counter()
        for i in range(0, n, STEP):
            scorer.score(x[i : i + STEP], keys[i : i + STEP])
        rates[engine] = n / (time.perf_counter() - start)
    return rates


def end_to_end(config, final, model, files, out: Path, *, copy: bool, engine: str):
    from fourtop.apply.scoring import score_file

    plan = _plan(config, final, out, files, copy=copy, engine=engine)
    scorer = model.scorer(engine)
    start, n = time.perf_counter(), 0
    for item in plan.files:
        n += score_file(plan, item, model.variables, scorer)
    return n, time.perf_counter() - start


#: the child's peak resident memory (MB): VmHWM belongs to the process's own memory map, so
#: unlike ru_maxrss it does not carry over the parent's peak through fork and exec
_PEAK = (
    "float(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"
)


def peak_memory(config_path: Path, final: Path, item, out: Path) -> tuple[float, float]:
    """Peak resident memory (MB) of a child process scoring one file (friend tree): before
    the file is read (imports, models) and at the end."""
    code = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from bench_apply import _plan
from fourtop.apply.plan import InputFile
from fourtop.apply.scoring import score_file
from fourtop.data.config import load_config
from fourtop.final.model import load_final_model
config = load_config({str(config_path)!r})
model = load_final_model({str(final)!r})
item = InputFile(**{item.__dict__!r})
plan = _plan(config, Path({str(final)!r}), Path({str(out)!r}), [item], copy=False, engine="onnx")
scorer = model.scorer("onnx")
before = {_PEAK}
score_file(plan, item, model.variables, scorer)
print(before, {_PEAK})
"""
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    before, after = done.stdout.strip().splitlines()[-1].split()
    return float(before), float(after)


def report(label: str, n: int, seconds: float, baseline: float | None = None) -> None:
    text = f"  {label:<44} {n:>10,} events {seconds:7.2f} s {n / seconds:>12,.0f} events/s"
    if baseline:
        text += f"  ({n / seconds / baseline:.2f}x the read-only rate)"
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=80_000, help="generated per default file")
    parser.add_argument("--big", type=int, default=1_000_000, help="events of the big file")
    parser.add_argument("--variables", type=int, default=76)
    parser.add_argument("-p", "--processes", type=int, default=2, help="local pool workers")
    args = parser.parse_args()

    import torch
    import uproot

    from finals import make_final
    from fourtop.apply.plan import InputFile, plan_files
    from fourtop.apply.workflow import ApplyRequest, apply
    from fourtop.data.config import load_config
    from fourtop.data.generate import generate_samples, process_of, write_sample
    from fourtop.final.model import load_final_model
    from fourtop.train.params import NetworkParams

    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"{os.cpu_count()} CPUs; k = {K}, the default network over {args.variables} variables"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        written = generate_samples(tmp / "samples", args.events, seed=1, keys=("2017",))
        big_name = written[0].name.replace("_split0", "_big")
        with uproot.open(written[0]) as f:  # the generator keeps a fraction of its events
            kept = f["ljmet"].num_entries / args.events
        write_sample(tmp / big_name, process_of(big_name), int(args.big / kept), 1, "2017", 2)
        print(f"data generated in {time.perf_counter() - start:.0f} s")
        os.environ["FOURTOP_DATA"] = str(tmp / "samples")
        os.environ["FOURTOP_CACHE"] = str(tmp / "cache")
        config = load_config(None)
        names = config.variable_names()[: args.variables]
        final = make_final(tmp / "final", config, variables=names, k=K, params=NetworkParams())
        model = load_final_model(final)
        default = plan_files(config, "2017")
        big = [InputFile("apply_big", str(tmp / big_name), big_name, "big", "extra")]

        rates = inference_only(model, args.big)
        print(f"\n0. inference alone on {args.big:,} events in memory, in apply's chunks:")
        for engine in ("torch", "onnx"):
            print(f"  {engine:<5} {rates[engine]:>12,.0f} events/s")
        print(f"  ONNX Runtime / PyTorch: {rates['onnx'] / rates['torch']:.2f}x")
        for label, files in (("default data (2017, 33 files)", default), ("big file", big)):
            paths = [f.input for f in files]
            n, seconds = read_only(paths, model.variables, config.tree)
            print(f"\n{label}: {n:,} entries")
            report("0. read the variables and the key (baseline)", n, seconds)
            floor = n / seconds
            for engine in ("torch", "onnx"):
                out = tmp / f"out-{engine}-{len(files)}"
                n, s = end_to_end(config, final, model, files, out, copy=False, engine=engine)
                report(f"1. friend tree, {engine}", n, s, floor)
            n, s = end_to_end(
                config, final, model, files, tmp / f"copy-{len(files)}", copy=True, engine="onnx"
            )
            report("1. --copy, onnx", n, s, floor)

        start = time.perf_counter()
        request = ApplyRequest(
            str(final), output=str(tmp / "command"), processes=args.processes
        )  # the default configuration and backend
        outcome = apply(request)
        seconds = time.perf_counter() - start
        print(f"\nthe whole command on the default data (local pool, -p {args.processes}):")
        report(f"2. {len(outcome.done)} files, worker start-up included", outcome.events, seconds)

        small = default[0]
        print("\n3. peak memory of a child process scoring one file (friend tree, onnx):")
        for item in (small, big[0]):
            before, after = peak_memory(config.path, final, item, tmp / f"mem-{item.job}")
            n = read_only([item.input], model.variables, config.tree)[0]
            print(
                f"  {n:>10,} entries: {after:6.0f} MB ({before:.0f} MB before reading: "
                f"imports and models; +{after - before:.0f} MB)"
            )


if __name__ == "__main__":
    main()
