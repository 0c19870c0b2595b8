"""Collection rules for the whole repository (pytest reads this before tests/conftest.py).

``--doctest-modules`` (pyproject.toml) imports every ``.py`` file under the test paths to
run its docstring examples. Only the package's own modules have examples: the test files
are left to the ordinary collector, so that a test file that fails to import is reported
once, not twice. ``fourtop/cli/__main__.py`` runs the command line when imported; pytest
never doctest-collects a ``__main__.py``, and it is ignored here as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent / "src" / "fourtop"

collect_ignore = ["src/fourtop/cli/__main__.py"]


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    collectors = yield
    if file_path.resolve().is_relative_to(PACKAGE):
        return collectors
    return [c for c in collectors if type(c).__name__ != "DoctestModule"]
