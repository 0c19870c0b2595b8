#!/usr/bin/env bash
# CI stage: install fourtop as users will, from the wheel, and run it.
#
#  1. `python -m build` (isolated: pip fetches setuptools into a throw-away environment) on a copy
#     of the checkout as a fresh clone has it: the sdist, then the wheel built from the sdist;
#  2. a fresh virtual environment (no system site packages), `pip install -c constraints.txt` the
#     wheel into it (all dependencies: this is the slow part, a few minutes);
#  3. from an empty folder, where the checkout's src/ cannot be imported: `fourtop --version`,
#     `fourtop generate`, a tiny `fourtop submit` (4 variables, 3 seeds, 1 epoch, local backend)
#     and `fourtop calculate`, and the results file is checked.
#
# Environment: PYTHON (default python3); WHEEL_CHECK_NO_ISOLATION=1 builds with --no-isolation
# (the setuptools installed beside PYTHON; for machines where an isolated build cannot reach a
# package index); WHEEL_CHECK_KEEP=1 keeps the temporary folder (it is kept on failure anyway).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
unset PYTHONPATH PYTHONHOME FOURTOP_CONFIG VIRTUAL_ENV

START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fourtop-wheel-check.XXXXXX")
STEP="setting up"
say() { echo "== wheel-check: $* [$((SECONDS - START)) s]"; }
fail() {
    echo "wheel-check: FAILED while ${STEP}: $*" >&2
    echo "wheel-check: the files are kept in $WORK" >&2
    exit 1
}
trap 'rc=$?; echo "wheel-check: FAILED while ${STEP} (exit $rc): $BASH_COMMAND" >&2;
      echo "wheel-check: the files are kept in $WORK" >&2' ERR
trap '[ $? -eq 0 ] && [ "${WHEEL_CHECK_KEEP:-0}" != 1 ] && rm -rf "$WORK"; true' EXIT

EXPECTED=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' src/fourtop/__init__.py)
[ -n "$EXPECTED" ] || fail "no __version__ = \"...\" line in src/fourtop/__init__.py"
say "fourtop $EXPECTED, $("$PYTHON" --version), in $WORK"

# -- 1. build -------------------------------------------------------------------------------
STEP="copying the checkout"
# tracked files and untracked ones git does not ignore: no build/, dist/ or stale egg-info
mkdir -p "$WORK/tree"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    if [ -f "$f" ]; then cp --parents -- "$f" "$WORK/tree/"; fi  # skip tracked files deleted here
done
[ -f "$WORK/tree/pyproject.toml" ] || fail "pyproject.toml was not copied"

STEP="building the sdist and the wheel (python -m build)"
BUILD_FLAGS=()
[ "${WHEEL_CHECK_NO_ISOLATION:-0}" = 1 ] && BUILD_FLAGS+=(--no-isolation)
say "python -m build ${BUILD_FLAGS[*]} (sdist, then the wheel from the sdist)"
(cd "$WORK/tree" && "$PYTHON" -m build "${BUILD_FLAGS[@]}" --outdir "$WORK/dist" .) \
    > "$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log" >&2
    fail "python -m build failed (log above; WHEEL_CHECK_NO_ISOLATION=1 builds offline)"
}
WHEEL="$WORK/dist/fourtop-$EXPECTED-py3-none-any.whl"
SDIST="$WORK/dist/fourtop-$EXPECTED.tar.gz"
[ -f "$WHEEL" ] || fail "no $(basename "$WHEEL") in dist: $(ls "$WORK/dist")"
[ -f "$SDIST" ] || fail "no $(basename "$SDIST") in dist: $(ls "$WORK/dist")"
T_BUILD=$((SECONDS - START))
say "built $(cd "$WORK/dist" && echo *)"

# -- 2. fresh virtual environment -------------------------------------------------------------
STEP="creating the virtual environment"
VENV="$WORK/venv"
"$PYTHON" -m venv "$VENV"
grep -qx 'include-system-site-packages = false' "$VENV/pyvenv.cfg" \
    || fail "the venv sees the system site packages: $(cat "$VENV/pyvenv.cfg")"
PY="$VENV/bin/python"

STEP="installing the wheel into the fresh venv (pip install -c constraints.txt)"
say "pip install -c constraints.txt $(basename "$WHEEL") (all dependencies; minutes)"
T0=$SECONDS
"$PY" -m pip install --progress-bar off -c "$ROOT/constraints.txt" "$WHEEL" \
    > "$WORK/pip.log" 2>&1 || {
    tail -n 40 "$WORK/pip.log" >&2
    fail "pip could not install the wheel (log above)"
}
T_INSTALL=$((SECONDS - T0))
STEP="checking the installed dependencies (pip check)"
"$PY" -m pip check
say "installed in ${T_INSTALL} s: $("$PY" -m pip list --format=freeze 2>/dev/null | wc -l) packages"

# -- 3. run it, away from the checkout --------------------------------------------------------
STEP="running fourtop from the venv"
RUN="$WORK/run"
mkdir -p "$RUN"
cd "$RUN"
export FOURTOP_DATA="$WORK/samples" FOURTOP_CACHE="$WORK/cache" MPLCONFIGDIR="$WORK/mpl"
FOURTOP="$VENV/bin/fourtop"
[ -x "$FOURTOP" ] || fail "the wheel installed no fourtop script in $VENV/bin"

LOCATION=$("$PY" -c 'import fourtop; print(fourtop.__file__)')
case "$LOCATION" in
    "$VENV"/*) say "fourtop imported from $LOCATION" ;;
    *) fail "fourtop was imported from $LOCATION, not from the venv $VENV" ;;
esac
"$PY" - "$ROOT" <<'EOF' || fail "modules of the checkout are on the venv's path"
import sys
root = sys.argv[1]
bad = [p for p in sys.path if p and (p == root or p.startswith(root + "/"))]
sys.exit(f"sys.path holds the checkout: {bad}" if bad else 0)
EOF

STEP="fourtop --version"
VERSION_LINE=$("$FOURTOP" --version)
echo "$VERSION_LINE"
[ "${VERSION_LINE##* }" = "$EXPECTED" ] \
    || fail "fourtop --version says '$VERSION_LINE'; src/fourtop/__init__.py says $EXPECTED"
INSTALLED=$("$PY" -c 'import fourtop; print(fourtop.__version__)')
[ "$INSTALLED" = "$EXPECTED" ] || fail "the venv's fourtop.__version__ is $INSTALLED, not $EXPECTED"
DIST_VERSION=$("$PY" -c 'import importlib.metadata as m; print(m.version("fourtop"))')
[ "$DIST_VERSION" = "$EXPECTED" ] || fail "the installed metadata says $DIST_VERSION, not $EXPECTED"

STEP="fourtop generate -n 2000 -y 2017"
say "fourtop generate -n 2000 -y 2017"
"$FOURTOP" generate -n 2000 -y 2017

STEP="a tiny fourtop submit (local backend)"
printf '%s\n' AK4HTpMETpLepPt NJets_JetSubCalc minMleppBjet centrality > vars.txt
say "fourtop submit: 4 variables, 3 seeds, 1 epoch, -p 2"
"$FOURTOP" submit -y 2017 -l vars.txt -n 3 --epochs 1 -p 2 --random-seed 9 --yes jobs
"$FOURTOP" folders -v jobs

STEP="fourtop calculate"
say "fourtop calculate"
"$FOURTOP" calculate --yes -f results jobs
RESULTS=results/VariableImportanceResults_4vars.txt
[ -s "$RESULTS" ] || fail "fourtop calculate wrote no $RESULTS: $(ls -A results 2>/dev/null)"
for name in AK4HTpMETpLepPt NJets_JetSubCalc minMleppBjet centrality; do
    grep -q "$name" "$RESULTS" || fail "$RESULTS does not name $name"
done
ls results | grep -q '\.png$' || fail "fourtop calculate drew no PNG plot: $(ls -A results)"
ls results | grep -q '\.pdf$' || fail "fourtop calculate drew no PDF plot: $(ls -A results)"

STEP="fourtop folders --json"
"$FOURTOP" folders --json jobs | "$PY" -c '
import json, sys
from importlib.resources import files
doc = json.load(sys.stdin)
(record,) = doc["folders"]
assert record["states"]["finished"] == record["jobs"] > 0, record["states"]
assert files("fourtop").joinpath("schemas/folders.schema.json").is_file()
' || fail "fourtop folders --json did not describe the finished folder"

T_ALL=$((SECONDS - START))
say "OK: fourtop $EXPECTED from the wheel in a fresh venv: build ${T_BUILD} s," \
    "install ${T_INSTALL} s, run $((T_ALL - T_BUILD - T_INSTALL)) s, ${T_ALL} s in all"
