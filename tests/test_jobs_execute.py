"""run_unit: job files, families versus members alone, failures recorded per job."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fourtop.data import ntuples
from fourtop.errors import DataError, JobFolderError
from fourtop.jobs import eventlog, execute
from fourtop.jobtracker import Seed, job_name
from fourtop.splits import Split
from train_data import arrays_file

VARS = [f"var{i}" for i in range(6)]
PARAMS = {"hidden_layers": 2, "initial_nodes": 8, "batch_size": 64, "epochs": 1}


@pytest.fixture
def arrays(tmp_path_factory, monkeypatch):
    """The events of every run below: a cache file passed as ``arrays_path``, and the paths
    the unit read it from (a spy on the public reader)."""
    path = arrays_file(
        tmp_path_factory.mktemp("arrays") / "six.npz", n_vars=6, n_events=200, seed=2
    )
    calls = []
    real = ntuples.read_cache_file

    def spy(where):
        calls.append(Path(where))
        return real(where)

    monkeypatch.setattr(ntuples, "read_cache_file", spy)
    monkeypatch.setattr(sys.modules[__name__], "ARRAYS", path)
    return calls


#: the cache file of the ``arrays`` fixture (set by it)
ARRAYS: Path | None = None


def family_names(bits: str = "110101") -> list[str]:
    seed = Seed.from_binary(bits, VARS)
    return [job_name(len(VARS), seed, None)] + [
        job_name(len(VARS), seed, sub) for sub in seed.subseeds()
    ]


def run(names, job_dir, **kw):
    settings = dict(
        job_dir=job_dir,
        variables=VARS,
        year="2017",
        config_path=None,
        params=PARAMS,
        random_seed=9,
        arrays_path=ARRAYS,
    )
    settings.update(kw)
    return execute.run_unit(names, **settings)


def test_family_writes_every_jobs_files(tmp_path, arrays):
    names = family_names()
    for i, name in enumerate(names):  # as a backend would have submitted them
        eventlog.log_submitted(tmp_path / f"{name}.log", cluster=77, proc=i)
    results = run(names, tmp_path)
    assert arrays == [ARRAYS]  # the data is loaded once for the whole family
    assert set(results) == set(names) and all(isinstance(v, float) for v in results.values())
    for i, name in enumerate(names):
        status = eventlog.job_status(tmp_path / f"{name}.log", tmp_path / f"{name}.out")
        assert status.state == "finished" and status.roc_integral == results[name]
        assert (tmp_path / f"{name}.err").read_text() == ""
        log = eventlog.parse_events((tmp_path / f"{name}.log").read_text())[0]
        assert [(e.code, e.cluster, e.proc) for e in log] == [(0, 77, i), (1, 77, i), (5, 77, i)]
        assert eventlog.read_log(tmp_path / f"{name}.log").return_value == 0
        out = (tmp_path / f"{name}.out").read_text()
        assert f"Job: {name}\n" in out and "5 network(s) of seed 53" in out
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_member_alone_agrees_with_its_family(tmp_path, arrays):
    names = family_names()
    family = run(names, None)
    for name in names[1:3]:
        alone = run([name], None)
        assert alone[name] == pytest.approx(family[name], abs=1e-6)
    assert not list(tmp_path.iterdir())  # job_dir None writes nothing


def test_random_seed_derives_from_base_and_seed_number():
    assert execute.derive_random_seed(None, 53) == execute.derive_random_seed(0, 53)
    assert execute.derive_random_seed(1, 53) != execute.derive_random_seed(0, 53)
    assert execute.derive_random_seed(0, 2**76 - 1) != execute.derive_random_seed(0, 2**76 - 2)


def test_bad_name_fails_only_that_job(tmp_path, arrays):
    names = [*family_names()[:2], "Keras_6vars_Seed_oops", "Keras_7vars_Seed_3"]
    results = run(names, tmp_path)
    assert isinstance(results[names[0]], float) and isinstance(results[names[1]], float)
    for bad in names[2:]:
        assert isinstance(results[bad], str)
        status = eventlog.job_status(tmp_path / f"{bad}.log", tmp_path / f"{bad}.out")
        assert status.state == "failed"
        assert eventlog.read_log(tmp_path / f"{bad}.log").return_value == 1
        assert (tmp_path / f"{bad}.err").read_text().strip() == results[bad]
    assert results[names[2]] == (
        "Keras_6vars_Seed_oops: not a job name (expected Keras_<N>vars_Seed_<n>[_Subseed_<m>])"
    )
    assert results[names[3]].endswith("job is for 7 variables but the variable list has 6")


def test_load_failure_fails_every_job(tmp_path, monkeypatch):
    def load(*args):
        raise DataError("/data/TTTT_split0.root: tree 'ljmet' not found")

    monkeypatch.setattr(ntuples, "load_split", load)
    names = family_names("000011")
    results = run(names, tmp_path, arrays_path=None)
    assert set(results.values()) == {"/data/TTTT_split0.root: tree 'ljmet' not found"}
    for name in names:
        assert "tree 'ljmet' not found" in (tmp_path / f"{name}.err").read_text()
        assert "ROC-integral" not in (tmp_path / f"{name}.out").read_text()


def test_unexpected_exception_is_a_failed_job(tmp_path, monkeypatch):
    def load(*args):
        raise MemoryError("cannot allocate")

    monkeypatch.setattr(ntuples, "read_cache_file", load)
    (name,) = family_names("000001")[:1]
    results = run([name], tmp_path, arrays_path=tmp_path / "any.npz")
    assert results[name].startswith("MemoryError: cannot allocate (at test_jobs_execute.py:")


def test_bad_params_fail_every_job(tmp_path, arrays):
    names = family_names("000011")
    results = run(names, tmp_path, params={"epochs": 0})
    assert all("epochs=0" in str(v) for v in results.values())
    assert arrays == []  # no data loaded for nothing


def test_training_failure_is_recorded(tmp_path, arrays):
    params = {**PARAMS, "learning_rate": 1e30, "regulator": "none"}
    (name,) = family_names("000111")[:1]
    results = run([name], tmp_path, params=params)
    assert "training diverged" in results[name]
    assert "training diverged" in (tmp_path / f"{name}.err").read_text()


def test_no_log_events_when_asked(tmp_path, arrays):
    (name,) = family_names("000011")[:1]
    run([name], tmp_path, log_events=False)
    assert (tmp_path / f"{name}.out").exists() and not (tmp_path / f"{name}.log").exists()


def test_missing_job_dir(tmp_path, arrays):
    with pytest.raises(JobFolderError, match="job folder does not exist"):
        run(family_names()[:1], tmp_path / "nope")
    assert not Path(tmp_path / "nope").exists()


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    from fourtop.data.generate import generate_samples

    out = tmp_path_factory.mktemp("samples")
    generate_samples(out, 600, seed=5, keys=("2017",))
    return out


def test_end_to_end_on_generated_samples(samples, tmp_path, monkeypatch):
    """Real config, ntuples and cache: a family, then the cached arrays via arrays_path."""
    from fourtop.data.config import load_config
    from fourtop.data.ntuples import cache_path
    from fourtop.variables import default_variables

    monkeypatch.setenv("FOURTOP_DATA", str(samples))
    variables = default_variables()
    seed = Seed(variables, 0)
    for v in ("AK4HT", "NJets_JetSubCalc", "NJetsCSVwithSF_MultiLepCalc"):
        seed.include(v)
    names = [job_name(76, seed, None)] + [job_name(76, seed, s) for s in seed.subseeds()]
    results = run(names, tmp_path, variables=variables)
    assert all(isinstance(v, float) for v in results.values()), results
    cache = cache_path(load_config(None), "2017", Split.IMPORTANCE)
    assert cache.is_file()
    again = run(names[:1], None, variables=variables, arrays_path=cache)
    assert again[names[0]] == pytest.approx(results[names[0]], abs=1e-6)
    missing = run(names[:1], None, variables=variables, arrays_path=tmp_path / "none.npz")
    assert missing[names[0]] == f"{tmp_path / 'none.npz'}: arrays file not found"
