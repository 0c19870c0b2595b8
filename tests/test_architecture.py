"""The package's import graph: no cycles, and every import points down the layer table.

The graph is read from the source with :mod:`ast`; nothing of ``fourtop`` is imported.

What counts as an edge ``a -> b`` (module ``a`` imports module ``b``):

- every ``import x`` and ``from x import y`` anywhere in ``a``: at the top level and inside
  functions, methods, classes, ``try`` blocks, ``if __name__ == "__main__"`` blocks;
- except those in the body of ``if TYPE_CHECKING:`` (or ``if typing.TYPE_CHECKING:``),
  which never run (its ``else:`` branch does run, and counts);
- relative imports are resolved against the importing module's package;
- ``from pkg import name`` is an edge to ``pkg.name`` when that is a module of the project
  (a ``.py`` file or a package), else to ``pkg`` (``name`` is then something ``pkg`` defines);
- ``import a.b.c`` is an edge to ``a.b.c`` only: no implicit edges to the parent packages
  ``a`` and ``a.b``, although Python runs their ``__init__`` first;
- only edges to modules inside ``fourtop`` matter; a module importing its own name is
  ignored; imports by string (``importlib.import_module(f"...")``) are not seen.

The rules:

1. No import cycles (through any kind of import above, in-function ones included).
2. A module may import modules of its own layer or of lower layers, never of a higher one.
   :data:`LAYERS` lists the layers bottom to top; a module belongs to the layer with the
   longest prefix that matches its name (``fourtop.jobs.settings`` is in "workflows" although
   ``fourtop.jobs`` is the "jobs engine"). A prefix matches the module of that name and the
   modules under it, except ``fourtop``, which matches the package ``__init__`` only.
   A module that no prefix matches fails the check: add it to :data:`LAYERS`.
3. Inside the packages of :data:`FULL_PATH_SIBLINGS`, no module imports from its own
   package (``from fourtop.hyperopt import outputs``); it names the sibling module
   (``from fourtop.hyperopt.outputs import ...``, ``import fourtop.hyperopt.outputs as
   outputs``).
4. The backend interface :data:`BACKEND_INTERFACE` does not import the backends themselves
   (:data:`BACKEND_IMPLEMENTATIONS`), directly or through other modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent

import pytest

#: the layers, bottom to top: name -> module-name prefixes. A module may import modules of
#: its own layer and of earlier (lower) entries, never of later (higher) ones.
LAYERS: dict[str, tuple[str, ...]] = {
    "base": (
        "fourtop",  # the package __init__ only
        "fourtop.errors",
        "fourtop.env",
        "fourtop.splits",
        "fourtop.fileio",
        "fourtop.staging",
        "fourtop.naming",
        "fourtop.variables",
        "fourtop.plotting",
    ),
    "data": ("fourtop.data",),
    "train": ("fourtop.train",),
    "jobs engine": ("fourtop.jobs",),
    "backends": ("fourtop.backends",),
    "workflows": (
        "fourtop.jobs.submission",
        "fourtop.jobs.resubmission",
        "fourtop.jobs.running",
        "fourtop.jobs.requests",
        "fourtop.jobs.settings",
        "fourtop.jobtracker",
        "fourtop.importance",
        "fourtop.hyperopt",
        "fourtop.final",
        "fourtop.apply",
        "fourtop.explain",
    ),
    "commands": ("fourtop.cli",),
}

PACKAGE = "fourtop"
SRC = Path(__file__).resolve().parents[1] / "src"

BACKEND_INTERFACE = "fourtop.backends.base"
BACKEND_IMPLEMENTATIONS = (
    "fourtop.backends.local",
    "fourtop.backends.condor",
    "fourtop.backends.slurm",
)

#: packages whose modules import their siblings by full module path, never ``from <package>
#: import ...``: the package's ``__init__`` imports those modules, so the package is still
#: half-initialised when they run
FULL_PATH_SIBLINGS = ("fourtop.hyperopt",)


# --------------------------------------------------------------------------------------------
# the graph builder


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{_shown(self.path)}:{self.line}"


@dataclass
class ImportGraph:
    """The modules of one package and the import edges between them."""

    package: str
    modules: dict[str, Path] = field(default_factory=dict)  # module name -> file
    packages: set[str] = field(default_factory=set)  # module names that are packages
    edges: list[Edge] = field(default_factory=list)
    #: every ``from X import ...`` inside the package, as an edge to ``X`` itself
    from_imports: list[Edge] = field(default_factory=list)

    def successors(self) -> dict[str, dict[str, Edge]]:
        """module -> {imported module: the first edge that imports it}, sorted for stable output."""
        out: dict[str, dict[str, Edge]] = {name: {} for name in sorted(self.modules)}
        for edge in sorted(self.edges, key=lambda e: (e.source, e.target, e.line)):
            out.setdefault(edge.source, {}).setdefault(edge.target, edge)
            out.setdefault(edge.target, {})
        return out


def _shown(path: Path) -> str:
    """A path relative to the repository when it is in it."""
    try:
        return str(path.relative_to(SRC.parent))
    except ValueError:
        return str(path)


def _module_name(src_root: Path, path: Path) -> tuple[str, bool]:
    """The dotted name of a source file, and whether it is a package ``__init__``."""
    parts = list(path.relative_to(src_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``<anything>.TYPE_CHECKING`` (``typing.TYPE_CHECKING``)."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: anywhere, except under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)  # the else branch runs
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve_base(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The absolute module name a ``from ... import`` reads from (None: beyond the top)."""
    if node.level == 0:
        return node.module
    parts = module.split(".") if is_package else module.split(".")[:-1]
    up = node.level - 1
    if up > len(parts) - 1:
        return None
    parts = parts[: len(parts) - up]
    if node.module:
        parts.append(node.module)
    return ".".join(parts)


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def build_graph(src_root: Path, package: str = PACKAGE) -> ImportGraph:
    """Read every module of ``src_root/package`` and collect the import edges inside it."""
    graph = ImportGraph(package)
    for path in sorted((src_root / package).rglob("*.py")):
        name, is_package = _module_name(src_root, path)
        graph.modules[name] = path
        if is_package:
            graph.packages.add(name)
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve_base(node, name, name in graph.packages)
                if base is None:
                    raise AssertionError(
                        f"{_shown(path)}:{node.lineno}: relative import beyond the top package"
                    )
                if _inside(base, package):
                    graph.from_imports.append(Edge(name, base, path, node.lineno))
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.append(candidate if candidate in graph.modules else base)
            for target in dict.fromkeys(targets):  # once per statement and target
                if _inside(target, package) and target != name:
                    graph.edges.append(Edge(name, target, path, node.lineno))
    return graph


# --------------------------------------------------------------------------------------------
# the checks


def find_cycles(graph: ImportGraph) -> list[list[Edge]]:
    """One cycle per strongly connected component that has one, as the chain of its edges.

    Tarjan's algorithm finds the components; in each, the shortest path from its first
    module (by name) back to itself is the chain shown.
    """
    succ = graph.successors()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    for root in succ:
        if root in index:
            continue
        # iterative Tarjan: (node, iterator over its successors)
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    cycles = []
    for component in sorted(components):
        members = set(component)
        start = component[0]
        # breadth-first search from start back to start, inside the component
        came_from: dict[str, Edge] = {}
        frontier = [start]
        found: Edge | None = None
        while frontier and found is None:
            following = []
            for node in frontier:
                for target, edge in succ[node].items():
                    if target == start:
                        found = edge
                        break
                    if target in members and target not in came_from:
                        came_from[target] = edge
                        following.append(target)
                if found is not None:
                    break
            frontier = following
        assert found is not None, component
        chain = [found]
        while chain[0].source != start:
            chain.insert(0, came_from[chain[0].source])
        cycles.append(chain)
    return cycles


def describe_cycle(chain: Sequence[Edge]) -> str:
    """``a -> b -> a``, then where each import is."""
    names = " -> ".join([chain[0].source, *(edge.target for edge in chain)])
    lines = [f"import cycle: {names}"]
    lines += [f"    {e.where()}: {e.source} imports {e.target}" for e in chain]
    return "\n".join(lines)


def layer_of(module: str, layers: Mapping[str, Sequence[str]], root: str) -> int | None:
    """The index of the layer whose longest prefix matches ``module`` (None: no layer)."""
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for level, prefixes in enumerate(layers.values()):
        for prefix in prefixes:
            matches = module == prefix or (prefix != root and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), level)
    return None if best is None else best[1]


def layer_problems(graph: ImportGraph, layers: Mapping[str, Sequence[str]] = LAYERS) -> list[str]:
    """Modules in no layer, and imports from a lower layer into a higher one."""
    names = list(layers)
    problems = []
    unknown = sorted({*graph.modules, *(e.target for e in graph.edges)})
    for module in unknown:
        if layer_of(module, layers, graph.package) is None:
            where = _shown(graph.modules[module]) if module in graph.modules else "imported"
            problems.append(
                f"{module} ({where}) is in no layer: add it to the layer table LAYERS "
                f"in tests/test_architecture.py"
            )
    for edge in sorted(graph.edges, key=lambda e: (e.source, e.line, e.target)):
        low = layer_of(edge.source, layers, graph.package)
        high = layer_of(edge.target, layers, graph.package)
        if low is not None and high is not None and high > low:
            problems.append(
                f"{edge.where()}: {edge.source} (layer {low} {names[low]!r}) imports "
                f"{edge.target} (layer {high} {names[high]!r}), a higher layer"
            )
    return problems


def import_path(graph: ImportGraph, source: str, target: str) -> list[Edge] | None:
    """The shortest chain of imports from ``source`` to ``target``, if there is one."""
    succ = graph.successors()
    came_from: dict[str, Edge] = {}
    frontier = [source]
    seen = {source}
    while frontier:
        following = []
        for node in frontier:
            for nxt, edge in succ.get(node, {}).items():
                if nxt in seen:
                    continue
                seen.add(nxt)
                came_from[nxt] = edge
                if nxt == target:
                    chain = [edge]
                    while chain[0].source != source:
                        chain.insert(0, came_from[chain[0].source])
                    return chain
                following.append(nxt)
        frontier = following
    return None


# --------------------------------------------------------------------------------------------
# the project


@pytest.fixture(scope="module")
def project() -> ImportGraph:
    graph = build_graph(SRC)
    # the checker read the real package, not an empty folder
    assert {"fourtop", "fourtop.errors", "fourtop.cli", BACKEND_INTERFACE} <= set(graph.modules)
    assert len(graph.modules) > 30 and len(graph.edges) > 50
    return graph


def test_no_import_cycles(project):
    cycles = find_cycles(project)
    assert not cycles, "\n" + "\n".join(describe_cycle(c) for c in cycles)


def test_imports_go_down_the_layers(project):
    problems = layer_problems(project)
    assert not problems, "\n" + "\n".join(problems)


def own_package_imports(graph: ImportGraph, packages: Sequence[str]) -> list[str]:
    """``from P import ...`` statements in the modules under ``P``, for each ``P`` given."""
    return [
        f"{e.where()}: {e.source} imports from its own package {e.target}; "
        f"import the sibling by its full module path"
        for e in sorted(graph.from_imports, key=lambda e: (e.source, e.line))
        if e.target in packages and e.source.startswith(e.target + ".")
    ]


def test_modules_import_their_siblings_by_full_path(project):
    problems = own_package_imports(project, FULL_PATH_SIBLINGS)
    assert not problems, "\n" + "\n".join(problems)


def test_backend_interface_does_not_import_the_backends(project):
    found = []
    for backend in BACKEND_IMPLEMENTATIONS:
        chain = import_path(project, BACKEND_INTERFACE, backend)
        if chain:
            found.append(describe_cycle(chain).replace("import cycle", "imports a backend"))
    assert not found, "\n" + "\n".join(found)


# --------------------------------------------------------------------------------------------
# the checker itself, on small made-up packages


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{"pkg/a.py": source}`` under ``root``; return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


def edges(graph: ImportGraph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in graph.edges}


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": """\
                import os

                class Thing:
                    def method(self):
                        from pkg.a import helper
                        return helper
                """,
        },
    )
    graph = build_graph(src, "pkg")
    cycles = find_cycles(graph)
    assert len(cycles) == 1
    text = describe_cycle(cycles[0])
    assert "pkg.a -> pkg.b -> pkg.a" in text
    assert "pkg/b.py:5: pkg.b imports pkg.a" in text


def test_a_longer_cycle_is_shown_as_one_chain(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "from pkg.c import x\n",
            "pkg/c.py": "def f():\n    from . import a\n",
            "pkg/d.py": "import pkg.a\n",  # leads into the cycle, is not in it
        },
    )
    (cycle,) = find_cycles(build_graph(src, "pkg"))
    assert describe_cycle(cycle).splitlines()[0] == "import cycle: pkg.a -> pkg.b -> pkg.c -> pkg.a"


def test_no_cycle_no_report(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import x\n",
            "pkg/a.py": "x = 1\n",
            "pkg/b.py": "import pkg\n",
        },
    )
    assert find_cycles(build_graph(src, "pkg")) == []


def test_imports_under_type_checking_are_ignored(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import B\n",
            "pkg/b.py": """\
                import typing
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from pkg.a import A
                if typing.TYPE_CHECKING:
                    import pkg.a
                else:
                    from pkg import c

                class B:
                    def f(self) -> A:
                        if TYPE_CHECKING:
                            from pkg import a
                        return a.A()
                """,
            "pkg/c.py": "",
        },
    )
    graph = build_graph(src, "pkg")
    assert edges(graph) == {("pkg.a", "pkg.b"), ("pkg.b", "pkg.c")}
    assert find_cycles(graph) == []


def test_relative_imports_resolve(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "from . import a\nfrom .sub import VALUE\n",
            "pkg/a.py": "from .sub.c import f\nfrom . import name_in_init\n",
            "pkg/sub/__init__.py": "from .c import VALUE\n",
            "pkg/sub/c.py": "from .. import a\nfrom ..a import g\nfrom . import d\n",
            "pkg/sub/d.py": "import json\n",
        },
    )
    assert edges(build_graph(src, "pkg")) == {
        ("pkg", "pkg.a"),
        ("pkg", "pkg.sub"),  # VALUE is not a module: the edge goes to the package
        ("pkg.a", "pkg.sub.c"),
        ("pkg.a", "pkg"),
        ("pkg.sub", "pkg.sub.c"),
        ("pkg.sub.c", "pkg.a"),
        ("pkg.sub.c", "pkg.sub.d"),
    }


def test_a_relative_import_beyond_the_top_package_is_an_error(tmp_path):
    src = write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from ... import x\n"})
    with pytest.raises(AssertionError, match=r"pkg/a.py:1: relative import beyond"):
        build_graph(src, "pkg")


def test_from_package_import_name_goes_to_the_module_or_the_package(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "CONSTANT = 1\n",
            "pkg/sub/mod.py": "",
            "pkg/sub/inner/__init__.py": "",
            "pkg/user.py": """\
                from pkg.sub import mod, CONSTANT
                from pkg.sub import inner
                """,
            "pkg/other.py": "import pkg.sub.inner\nimport numpy\nfrom os import path\n",
        },
    )
    assert edges(build_graph(src, "pkg")) == {
        ("pkg.user", "pkg.sub.mod"),
        ("pkg.user", "pkg.sub"),
        ("pkg.user", "pkg.sub.inner"),
        # no implicit edges to pkg or pkg.sub, and nothing outside the package
        ("pkg.other", "pkg.sub.inner"),
    }


def test_an_upward_import_and_an_unknown_module_are_reported(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low.py": "def f():\n    from pkg.high import x\n",
            "pkg/high/__init__.py": "from pkg import low\n",
            "pkg/high/special.py": "",
            "pkg/mid.py": "import pkg.high.special\n",
            "pkg/stray.py": "",
        },
    )
    layers = {
        "bottom": ("pkg", "pkg.low", "pkg.high.special"),
        "middle": ("pkg.mid",),
        "top": ("pkg.high",),
    }
    problems = layer_problems(build_graph(src, "pkg"), layers)
    assert problems == [
        f"pkg.stray ({tmp_path}/pkg/stray.py) is in no layer: add it to the layer table "
        "LAYERS in tests/test_architecture.py",
        f"{tmp_path}/pkg/low.py:2: pkg.low (layer 0 'bottom') imports pkg.high "
        "(layer 2 'top'), a higher layer",
    ]  # pkg.mid -> pkg.high.special goes down: the longest prefix puts it in "bottom"


def test_an_import_from_the_own_package_is_reported(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import a\n",
            "pkg/sub/__init__.py": "from pkg.sub.a import x\n",
            "pkg/sub/a.py": "def f():\n    from . import b\n",
            "pkg/sub/b.py": "import pkg.sub.a as a\nfrom pkg.sub.a import x\nfrom pkg import sub\n",
        },
    )
    assert own_package_imports(build_graph(src, "pkg"), ["pkg.sub"]) == [
        f"{tmp_path}/pkg/sub/a.py:2: pkg.sub.a imports from its own package pkg.sub; "
        "import the sibling by its full module path"
    ]


def test_the_root_prefix_matches_only_the_package_itself():
    layers = {"base": ("pkg", "pkg.errors"), "top": ("pkg.cli",)}
    assert layer_of("pkg", layers, "pkg") == 0
    assert layer_of("pkg.errors", layers, "pkg") == 0
    assert layer_of("pkg.cli.main", layers, "pkg") == 1
    assert layer_of("pkg.newthing", layers, "pkg") is None
    assert layer_of("pkg.errorsx", layers, "pkg") is None


def test_an_indirect_import_of_a_backend_is_found(tmp_path):
    src = write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "def f():\n    from pkg import helper\n",
            "pkg/helper.py": "import pkg.local\n",
            "pkg/local.py": "",
        },
    )
    graph = build_graph(src, "pkg")
    chain = import_path(graph, "pkg.base", "pkg.local")
    assert chain is not None
    assert [e.target for e in chain] == ["pkg.helper", "pkg.local"]
    assert import_path(graph, "pkg.local", "pkg.base") is None
