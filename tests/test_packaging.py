"""What users install: the wheel and the sdist ship every file of the package.

The files required are read from git, not listed here: every file under ``src/fourtop`` that git
tracks (modules, data, resources, schemas, ``py.typed``) must be in the wheel and in the sdist,
so a new data file whose pattern is missing from ``[tool.setuptools.package-data]`` fails here.

The distributions are built once per module, with ``python -m build --no-isolation`` (offline,
the setuptools installed here), from a copy of the checkout's files (tracked, and untracked ones
git does not ignore), as a fresh clone would have them: a build in the checkout itself would read
its stale ``build/lib`` and ``src/fourtop.egg-info`` (files deleted from the package-data could
still be packed from there) and write into a tree other processes use. Two wheels are checked:
the one built straight from the tree (what ``pip install .`` does) and the one built from the
sdist (what ``python -m build`` does). The CI stage ``.ci/wheel-check.sh`` goes further: an
isolated build, installed into a fresh virtual environment and run.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

import fourtop

ROOT = Path(__file__).resolve().parents[1]
VERSION = fourtop.__version__
DIST_INFO = f"fourtop-{VERSION}.dist-info"
SDIST_TOP = f"fourtop-{VERSION}"

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="needs the git checkout (the required files are the ones git tracks)",
)


def _git_files(*args: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", *args], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [name for name in out.decode().split("\0") if name]


def _required() -> list[str]:
    """Every tracked file of the package (that is on disk), relative to ``src/``."""
    files = [
        name
        for name in _git_files("--", "src/fourtop")
        if (ROOT / name).is_file() and "__pycache__" not in name
    ]
    assert "src/fourtop/__init__.py" in files, files
    return sorted(str(Path(name).relative_to("src")) for name in files)


def _build(source: Path, outdir: Path, *flags: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", *flags, "--outdir", str(outdir)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"python -m build {' '.join(flags)} failed:\n{proc.stdout}\n{proc.stderr}"
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("build", reason="python -m build (the [test] extra)")
    base = tmp_path_factory.mktemp("packaging")
    tree = base / "tree"
    for name in _git_files("--cached", "--others", "--exclude-standard"):
        src = ROOT / name
        if src.is_file():  # a tracked file deleted in the working tree is not copied
            dest = tree / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    _build(tree, base / "direct", "--wheel")  # as pip install . builds it
    _build(tree, base / "via-sdist")  # sdist, then the wheel from the unpacked sdist
    found = {
        "direct wheel": list((base / "direct").glob("*.whl")),
        "wheel from sdist": list((base / "via-sdist").glob("*.whl")),
        "sdist": list((base / "via-sdist").glob("*.tar.gz")),
    }
    for kind, paths in found.items():
        assert len(paths) == 1, f"{kind}: expected one file, found {paths}"
    return {kind: paths[0] for kind, paths in found.items()}


def test_the_required_files_are_found():
    required = _required()
    assert "fourtop/cli/__init__.py" in required or "fourtop/cli.py" in required
    assert [name for name in required if not name.endswith(".py")], "no data file found"


@pytest.mark.parametrize("kind", ["direct wheel", "wheel from sdist"])
def test_wheel_ships_every_file_of_the_package(dists, kind):
    wheel = dists[kind]
    assert wheel.name == f"fourtop-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = HeaderParser().parsestr(zf.read(f"{DIST_INFO}/METADATA").decode())
        entry_points = configparser.ConfigParser(delimiters=("=",))
        entry_points.read_string(zf.read(f"{DIST_INFO}/entry_points.txt").decode())

    missing = [name for name in _required() if name not in names]
    assert not missing, (
        f"{kind} lacks {len(missing)} file(s) of src/fourtop: {missing} "
        "(add their pattern to [tool.setuptools.package-data] in pyproject.toml, or the "
        "__init__.py that makes a folder a package)"
    )
    stray = [name for name in names if not name.startswith(("fourtop/", f"{DIST_INFO}/"))]
    assert not stray, f"{kind} installs files outside the fourtop package: {stray}"

    assert metadata["Name"] == "fourtop"
    assert metadata["Version"] == VERSION, (metadata["Version"], VERSION)
    assert entry_points.has_section("console_scripts"), entry_points.sections()
    assert entry_points["console_scripts"].get("fourtop") == "fourtop.cli:main"


def test_console_script_target_exists():
    from fourtop import cli

    assert callable(cli.main)


def test_sdist_ships_every_file_of_the_package(dists):
    sdist = dists["sdist"]
    assert sdist.name == f"fourtop-{VERSION}.tar.gz"
    with tarfile.open(sdist) as tf:
        names = {member.name for member in tf.getmembers() if member.isfile()}
        pkg_info = tf.extractfile(f"{SDIST_TOP}/PKG-INFO")
        assert pkg_info is not None
        metadata = HeaderParser().parsestr(pkg_info.read().decode())
    wanted = [f"{SDIST_TOP}/src/{name}" for name in _required()]
    wanted += [f"{SDIST_TOP}/pyproject.toml", f"{SDIST_TOP}/README.md"]
    missing = [name for name in wanted if name not in names]
    assert not missing, f"the sdist lacks {len(missing)} file(s): {missing}"
    assert metadata["Version"] == VERSION, (metadata["Version"], VERSION)
