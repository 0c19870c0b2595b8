"""The memory-mapped cache (arrays file): round trip, mapping, the old .npz, damaged files,
``run-job --arrays`` on either format, and the memory lines of a job's ``.out``."""

from __future__ import annotations

import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import uproot

from fourtop.cli import main
from fourtop.data import arrayfile
from fourtop.data.arrayfile import is_memory_mapped, map_arrays, write_arrays
from fourtop.data.config import load_config
from fourtop.data.ntuples import (
    CACHE_SUFFIX,
    SplitArrays,
    cache_path,
    load_split,
    read_cache_file,
    write_cache_file,
)
from fourtop.errors import DataError
from fourtop.jobs.memory import MemoryWatch
from train_data import make_arrays

VARS = [f"var{i}" for i in range(6)]
PARAMS = json.dumps({"hidden_layers": 2, "initial_nodes": 8, "batch_size": 64, "epochs": 1})
SEED_JOB = "Keras_6vars_Seed_52"  # 110100: var0, var1, var3


def _with_keys(arrays: SplitArrays) -> SplitArrays:
    arrays.signal_key = np.arange(len(arrays.signal), dtype=np.int64) * 7
    arrays.background_key = np.arange(len(arrays.background), dtype=np.int64) * 7 + 1
    return arrays


def _old_npz(path: Path, arrays: SplitArrays) -> Path:
    """``arrays`` as the cache file of fourtop before the arrays file (``np.savez``)."""
    with open(path, "wb") as fh:
        np.savez(
            fh,
            variables=np.asarray(arrays.variables),
            signal=arrays.signal,
            signal_weight=arrays.signal_weight,
            background=arrays.background,
            background_weight=arrays.background_weight,
        )
    return path


def _same(a: SplitArrays, b: SplitArrays) -> None:
    assert a.variables == b.variables
    for name in ("signal", "signal_weight", "background", "background_weight"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == getattr(b, name).dtype


def test_round_trip_maps_the_arrays_read_only(tmp_path):
    arrays = _with_keys(make_arrays(n_vars=6, n_events=300, seed=1))
    path = tmp_path / f"a{CACHE_SUFFIX}"
    write_cache_file(path, arrays)
    assert path.read_bytes().startswith(arrayfile.MAGIC)
    back = read_cache_file(path)
    _same(back, arrays)
    np.testing.assert_array_equal(back.signal_key, arrays.signal_key)
    np.testing.assert_array_equal(back.background_key, arrays.background_key)
    for name in ("signal", "signal_weight", "background", "background_weight", "signal_key"):
        x = getattr(back, name)
        assert is_memory_mapped(x), name  # no private copy made by the checks
        assert not x.flags.writeable
    # a view of the file's mapping: its base chain ends in a numpy memmap of the file
    base = back.signal
    while not isinstance(base, np.memmap):
        base = base.base
    assert Path(base.filename) == path.resolve()
    assert base.ctypes.data <= back.signal.ctypes.data < base.ctypes.data + base.size
    assert back.signal.ctypes.data % arrayfile.ALIGN == 0
    # a copy is not mapped; a subset of columns (what a job takes) is a private copy
    assert not is_memory_mapped(np.array(back.signal))
    assert not np.shares_memory(back.signal[:, [0, 2]], back.signal)


def test_no_copy_when_a_job_loads_it(tmp_path):
    """Two reads map the same file: the data is the page cache's, not each reader's."""
    path = tmp_path / f"a{CACHE_SUFFIX}"
    write_cache_file(path, make_arrays(n_vars=6, n_events=2000))
    first, second = read_cache_file(path), read_cache_file(path)
    assert is_memory_mapped(first.background) and is_memory_mapped(second.background)
    assert first.background.ctypes.data != second.background.ctypes.data  # two mappings
    np.testing.assert_array_equal(first.background, second.background)


def test_old_npz_is_still_read(tmp_path):
    arrays = make_arrays(n_vars=6, n_events=300, seed=2)
    back = read_cache_file(_old_npz(tmp_path / "old.npz", arrays))
    _same(back, arrays)
    assert not is_memory_mapped(back.signal)  # read into memory, as before


def test_empty_classes_and_arrays_round_trip(tmp_path):
    path = tmp_path / "x.arrays"
    with open(path, "wb") as fh:
        write_arrays(fh, ["a", "b"], {"x": np.zeros((0, 2), np.float32), "y": np.arange(3)})
    variables, arrays = map_arrays(path)
    assert variables == ["a", "b"] and arrays["x"].shape == (0, 2)
    assert arrays["y"].tolist() == [0, 1, 2] and arrays["y"].dtype == np.int64


def _good(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / f"a{CACHE_SUFFIX}"
    write_cache_file(path, make_arrays(n_vars=6, n_events=500))
    return path, path.read_bytes()


def _header(good: bytes, raw: bytes) -> bytes:
    """``good`` with its JSON header replaced by ``raw`` (the arrays stay where they are)."""
    start = min(a["offset"] for a in json.loads(good[16 : 16 + _length(good)])["arrays"].values())
    assert 16 + len(raw) <= start
    return (good[:12] + struct.pack("<I", len(raw)) + raw).ljust(start, b"\0") + good[start:]


def _length(good: bytes) -> int:
    return struct.unpack("<I", good[12:16])[0]


def _spec(good: bytes, **change: object) -> bytes:
    """``good`` with the signal's header entry changed (``shape=...``, ``offset=...``)."""
    doc = json.loads(good[16 : 16 + _length(good)])
    doc["arrays"]["signal"].update(change)
    return _header(good, json.dumps(doc).encode())


def _raw_spec(good: bytes, key: str, text: str) -> bytes:
    """``good`` with the signal's ``key`` set to the raw JSON ``text`` (1e400, Infinity)."""
    doc = json.loads(good[16 : 16 + _length(good)])
    doc["arrays"]["signal"][key] = "@@"
    return _header(good, json.dumps(doc).replace('"@@"', text).encode())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        # hostile headers (each crashed with OverflowError, ValueError or RecursionError)
        (lambda b: _raw_spec(b, "shape", "[1e400, 6]"), r"damaged header: array 'signal'\)"),
        (lambda b: _raw_spec(b, "offset", "Infinity"), r"damaged header: array 'signal'\)"),
        (lambda b: _spec(b, shape=[10**30, 6]), r"damaged header: array 'signal' \{"),
        (lambda b: _spec(b, shape=[2**62, 4]), r"damaged header: array 'signal' \{"),
        (lambda b: _spec(b, shape=[True, 6]), r"damaged header: array 'signal'\)"),
        (lambda b: _spec(b, offset=4096.0), r"damaged header: array 'signal'\)"),
        (lambda b: _header(b, b"[" * 2000 + b"]" * 2000), r"\(damaged header\)$"),
        (lambda b: b[:8] + struct.pack("<I", 0) + b[12:], r"damaged header: format version 0"),
        (lambda b: b[:12] + struct.pack("<I", 2**32 - 1) + b[16:],
         r"truncated: \d+ bytes, the header alone needs 4294967311"),
        (lambda b: b"hello, not numbers\n",
         r"not a fourtop arrays file \(neither an arrays file nor an \.npz archive\)$"),
        (lambda b: b"PK\x03\x04" + b"\0" * 50,
         r"not a fourtop arrays file \(a damaged \.npz archive: BadZipFile\)$"),
        (lambda b: b[: len(b) - 100], r"not a fourtop arrays file \(truncated: \d+ bytes, the "
         r"header says \d+\)"),
        (lambda b: b[:40], r"not a fourtop arrays file \(truncated: 40 bytes, the header alone"),
        (lambda b: b[:10], r"not a fourtop arrays file \(no arrays file header\)"),
        (lambda b: b[:16] + b"!" + b[17:], r"not a fourtop arrays file \(damaged header\)"),
        (lambda b: b + b"\0" * 10, r"not a fourtop arrays file \(damaged: \d+ bytes"),
        (lambda b: b[:8] + struct.pack("<I", 9) + b[12:],
         r"arrays file of format version 9, newer than this fourtop reads \(1\): update"),
        (lambda b: b.replace(b'"<f4"', b'"<c8"', 1), r"damaged header: array 'signal'"),
        (lambda b: b.replace(b'"variables"', b'"variablez"', 1), r"\(damaged header\)"),
    ],
)  # fmt: skip
def test_damaged_file_is_refused_in_one_line(tmp_path, damage, message):
    path, good = _good(tmp_path)
    path.write_bytes(damage(good))
    with pytest.raises(DataError, match=message) as info:
        read_cache_file(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_missing_array_is_refused(tmp_path):
    path = tmp_path / "x.arrays"
    with open(path, "wb") as fh:
        write_arrays(fh, ["a"], {"signal": np.zeros((3, 1), np.float32)})
    with pytest.raises(DataError, match=r"not a fourtop arrays file \(no 'signal_weight'\)"):
        read_cache_file(path)


# --- the cache of load_split ------------------------------------------------------------------


def _ntuple(path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(0)
    branches = {
        "AK4HT": rng.uniform(300, 900, n).astype(np.float32),
        "NJets_JetSubCalc": rng.integers(4, 9, n).astype(np.int32),
        "xsecEff": np.full(n, 0.5),
    }
    with uproot.recreate(path) as f:
        f.mktree("ljmet", {k: v.dtype for k, v in branches.items()})
        f["ljmet"].extend(branches)
    return path


def _config(tmp_path: Path):
    sig, bkg = _ntuple(tmp_path / "s.root"), _ntuple(tmp_path / "b.root", 300)
    path = tmp_path / "c.toml"
    path.write_text(
        'tree = "ljmet"\nweight = "xsecEff"\nselection = "AK4HT > 510"\n'
        'variables = ["AK4HT", "NJets_JetSubCalc"]\n'
        f'[datasets.2017]\nsignal = ["{sig}"]\nbackground = ["{bkg}"]\n'
    )
    return load_config(path)


def test_load_split_caches_an_arrays_file_and_maps_it(tmp_path):
    config = _config(tmp_path)
    cache = tmp_path / "cache"
    path = cache_path(config, "2017", 0, cache)
    assert path.suffix == CACHE_SUFFIX == ".arrays"
    built = load_split(config, "2017", 0, cache_dir=cache)
    assert path.read_bytes().startswith(arrayfile.MAGIC)
    assert is_memory_mapped(built.signal)  # the builder maps the file it wrote, too
    again = load_split(config, "2017", 0, cache_dir=cache)
    assert is_memory_mapped(again.signal) and is_memory_mapped(again.background_weight)
    _same(again, built)


def test_old_cache_version_is_not_used(tmp_path):
    """A version-1 cache (an .npz at the old name) is left alone and the split is read again."""
    config = _config(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    wrong = make_arrays(names=config.variable_names(), n_events=5)
    old = _old_npz(cache / cache_path(config, "2017", 0, cache).with_suffix(".npz").name, wrong)
    arrays = load_split(config, "2017", 0, cache_dir=cache)
    assert len(arrays.signal) != 5 and old.is_file()


def _damage(path: Path, content: bytes) -> None:
    """Put ``content`` at ``path`` as a new file: truncating a mapped file in place would
    take the pages from under this process's mapping (SIGBUS)."""
    aside = path.with_name("damaged")
    aside.write_bytes(content)
    os.replace(aside, path)


@pytest.mark.parametrize("cut", [0, 10, 100, -1000])
def test_truncated_cache_is_ignored_and_rebuilt(tmp_path, caplog, cut):
    config = _config(tmp_path)
    cache = tmp_path / "cache"
    arrays = load_split(config, "2017", 0, cache_dir=cache)
    path = cache_path(config, "2017", 0, cache)
    good = path.read_bytes()
    _damage(path, good[:cut])  # e.g. a copy cut short
    again = load_split(config, "2017", 0, cache_dir=cache)
    assert "ignoring the unreadable cache file" in caplog.text
    assert "not a fourtop arrays file" in caplog.text
    _same(again, arrays)
    assert path.read_bytes() == good and is_memory_mapped(again.signal)


# --- run-job --arrays -------------------------------------------------------------------------


@pytest.fixture
def job_files(tmp_path):
    (tmp_path / "6vars.txt").write_text("\n".join(VARS) + "\n")
    arrays = make_arrays(n_vars=6, n_events=150, seed=3)
    write_cache_file(tmp_path / "six.arrays", arrays)
    _old_npz(tmp_path / "six.npz", arrays)
    return tmp_path


def _run_job(folder: Path, arrays: str, *args: str) -> int:
    where = ["-l", str(folder / "6vars.txt"), "--arrays", str(folder / arrays)]
    return main(["run-job", *where, "--params", PARAMS, "--random-seed", "3", *args])


def test_run_job_reads_both_formats_alike(job_files, capsys):
    """A job folder of an older fourtop ships an .npz: it trains as the arrays file does."""
    assert _run_job(job_files, "six.arrays", SEED_JOB) == 0
    new = capsys.readouterr().out
    assert _run_job(job_files, "six.npz", SEED_JOB) == 0
    assert capsys.readouterr().out == new and new.startswith("ROC-integral: ")


def test_run_job_out_reports_memory(job_files):
    job_dir = job_files / "jobs"
    job_dir.mkdir()
    assert _run_job(job_files, "six.arrays", "--job-dir", str(job_dir), SEED_JOB) == 0
    lines = (job_dir / f"{SEED_JOB}.out").read_text().splitlines()
    memory = [line for line in lines if line.startswith("Memory: ")]
    assert len(memory) == 1
    assert "peak RSS " in memory[0] and " MiB" in memory[0]
    assert lines[-1].startswith("ROC-integral: ") and 0 <= float(lines[-1].split(": ")[1]) <= 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: _raw_spec(b, "shape", "[1e400, 6]"), "(damaged header: array 'signal')"),
        (lambda b: _header(b, b"[" * 2000 + b"]" * 2000), "(damaged header)"),
        (lambda b: b"ROC-integral: 0.9\n", "(neither an arrays file nor an .npz archive)"),
    ],
)
def test_run_job_refuses_a_hostile_arrays_file(job_files, capsys, damage, message):
    """A header that crashed the reader (a traceback) is one line, exit 1."""
    path = job_files / "six.arrays"
    _damage(path, damage(path.read_bytes()))
    assert _run_job(job_files, "six.arrays", SEED_JOB) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fourtop run-job: error: ")
    assert f"{path}: not a fourtop arrays file {message}" in err


def test_hostile_cache_header_is_ignored_and_rebuilt(tmp_path, caplog):
    """A cache file whose header makes numbers overflow is rebuilt, not a crash."""
    config = _config(tmp_path)
    cache = tmp_path / "cache"
    arrays = load_split(config, "2017", 0, cache_dir=cache)
    path = cache_path(config, "2017", 0, cache)
    good = path.read_bytes()
    _damage(path, _spec(good, shape=[2**62, 4]))
    again = load_split(config, "2017", 0, cache_dir=cache)
    assert "ignoring the unreadable cache file" in caplog.text
    _same(again, arrays)
    assert path.read_bytes() == good


def test_run_job_refuses_a_truncated_arrays_file(job_files, capsys):
    path = job_files / "six.arrays"
    _damage(path, path.read_bytes()[:5000])
    assert _run_job(job_files, "six.arrays", SEED_JOB) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fourtop run-job: error: ")
    assert f"{path}: not a fourtop arrays file (truncated: 5000 bytes" in err


# --- memory figures ---------------------------------------------------------------------------


def test_memory_watch_sees_a_new_peak():
    with MemoryWatch(interval=0.01) as watch:
        block = np.ones(50_000_000 // 8)  # 50 MB, touched
        block += 1
        del block
    rss, pss = watch.peak_rss(), watch.peak_pss()
    assert rss is not None and rss >= 50_000_000
    if pss is not None:  # Linux
        assert pss > 0
    assert watch.summary().startswith("peak RSS ")


def test_is_memory_mapped_follows_the_base_chain(tmp_path):
    path = tmp_path / "raw"
    path.write_bytes(bytes(4096))
    with open(path, "rb") as fh:
        raw = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    assert is_memory_mapped(np.frombuffer(raw, np.float32)[:10].reshape(2, 5))
    assert not is_memory_mapped(np.zeros(3))


def test_memory_watch_without_a_thread_or_proc(monkeypatch):
    """No thread to spare (a process limit) and no /proc: the job still runs and says so."""
    import fourtop.jobs.memory as memory

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(memory.threading.Thread, "start", no_thread)
    with MemoryWatch(interval=0.01) as watch:
        pass
    assert "peak RSS" in watch.summary()
    monkeypatch.setattr(memory, "_proc_kib", lambda path, field: None)
    monkeypatch.setattr(memory, "_reset_peak_rss", lambda: False)
    with MemoryWatch(interval=0.01) as watch:
        pass
    assert watch.peak_pss() is None and watch.summary().endswith("MiB (process)")
