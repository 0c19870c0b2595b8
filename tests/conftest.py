"""Shared test setup: CPU-only, single-threaded torch, isolated data and cache folders; job
folders and the batch-system stand-ins the backend tests share (``jobfolders.py``,
``standins.py``)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's data, cache and config."""
    base = tmp_path_factory.mktemp("fourtop-home")
    monkeypatch.setenv("FOURTOP_CACHE", str(base / "cache"))
    monkeypatch.delenv("FOURTOP_CONFIG", raising=False)
    # FOURTOP_DATA is left to tests that need samples (see the data fixtures).
    monkeypatch.setenv("FOURTOP_DATA", str(base / "samples"))


try:  # keep trainings reproducible and polite on 2 cores
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(autouse=True)
def _release_fault_resources():
    """Unmount the disks and release the locks a fault-table row's setup held."""
    yield
    from faults import release_held

    release_held()


@pytest.fixture(scope="session")
def tiny_samples(tmp_path_factory):
    """Synthetic 2017 samples, generated once per test session (4000 events per file)."""
    from fourtop.data.generate import generate_samples

    out = tmp_path_factory.mktemp("tiny-samples")
    generate_samples(out, 4000, seed=3, keys=("2017",))
    return out


@pytest.fixture
def sample_workdir(tiny_samples, tmp_path, monkeypatch):
    """A working directory over the tiny samples, with ``vars.txt`` (four variables)."""
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vars.txt").write_text(
        "AK4HTpMETpLepPt\nNJets_JetSubCalc\nminMleppBjet\ncentrality\n"
    )
    return tmp_path


# ------------------------------------------------------------------ backends: folders, stand-ins


@pytest.fixture
def new_folder(tmp_path):
    """``new_folder(seeds, name="jobs")``: a job folder under ``tmp_path`` with each seed's
    family (see ``jobfolders.new_folder``); returns ``(JobFolder, one WorkUnit per family)``."""
    from jobfolders import VARS
    from jobfolders import new_folder as build

    def make(seeds, name="jobs", variables=VARS):
        return build(tmp_path / name, seeds, variables)

    return make


@pytest.fixture
def schedd(monkeypatch):
    """A ``standins.FakeSchedd`` in place of ``htcondor2.Schedd`` (skips without htcondor2)."""
    htcondor2 = pytest.importorskip("htcondor2")
    pytest.importorskip("classad2")
    from standins import FakeSchedd

    fake = FakeSchedd()
    monkeypatch.setattr(htcondor2, "Schedd", fake)
    return fake


@pytest.fixture
def slurm_tools(tmp_path, monkeypatch):
    """``standins.FakeSlurm``: stand-in ``sbatch``, ``squeue`` and ``scancel`` first on PATH."""
    from standins import FakeSlurm

    fake = FakeSlurm(tmp_path / "slurm-standin")
    monkeypatch.setenv("PATH", str(fake.bin), prepend=os.pathsep)
    return fake
