# The two set-up commands of the README, and a few developer targets.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install -q -c constraints.txt -e '.[test]'
PIP_INSTALL_RUN = $(PYTHON) -m pip install -q -c constraints.txt -e .

.PHONY: install test demo lint slow slurm bench

install:
	$(PIP_INSTALL)

## Runs the whole pipeline on the embedded default data (10 to 20 minutes on 2 cores).
demo:
	$(PIP_INSTALL_RUN)
	$(PYTHON) -m fourtop.cli demo

## The quick test suite (installs what it needs first).
test: install
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m pytest -q

lint: install
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m ruff format --check src tests benchmarks

## Slower checks: end-to-end runs and real-ROOT comparisons.
slow: install
	$(PYTHON) -m pytest -q -m slow

## Live SLURM test: starts a one-node cluster on this machine (root, Debian).
slurm: install
	bash .ci/slurm-start.sh
	$(PYTHON) -m pytest -q -m slurm

## Speed measurements (each script measures its baseline in the same run).
bench: install
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PYTHON) $$f || exit 1; done
