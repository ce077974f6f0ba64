"""The import graph of the `sorakit` package, read with `ast` (no module is imported).

An edge ``a -> b`` means module ``a`` imports sorakit module ``b`` anywhere in its source: at module
level, inside a function, or under ``if TYPE_CHECKING:`` (a function-local import is still a
dependency; it only postpones the circle to run time). ``from . import x`` counts as importing the
submodule ``x`` when ``x`` is one; importing a package also runs its ``__init__``, so an edge to
``sorakit.a.b`` implies edges to ``sorakit.a``'s ``__init__`` — but those parent edges are left out:
every package ``__init__`` re-exports its children, so counting them would turn each
child → sibling import into a circle through the parent, which hides the circles that matter
(module to module).

Asserted: no circle inside `sorakit.emulator` or `sorakit.engine`. Circles elsewhere in the
package are allowed only if listed in ``KNOWN_CYCLES`` with a reason; a new one fails the test,
and so does a listed one that has gone (so the list stays true).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sorakit

ROOT = Path(sorakit.__file__).resolve().parent

# Packages that must have no import circle at all among their modules.
ACYCLIC = ("sorakit.emulator", "sorakit.engine")

# Circles tolerated elsewhere, as frozensets of module names, each with the reason it stays.
# (Issue 22 broke the last ones: emulator `_app` ↔ every surface, engine `_budget` → `_validate` →
# `_engine` and `_job` ↔ `_launch` ↔ `_studio`.)
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(current: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph() -> dict[str, set[str]]:
    """``{module: {sorakit modules it imports}}`` for every module of the package."""
    modules = all_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module)
                targets = [base]
                targets += [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
            for target in targets:
                # the deepest sorakit module named by the import (``a.b.c`` where ``c`` is a name)
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target.startswith("sorakit") and target != name:
                    graph[name].add(target)
    # `from .pkg import name` is an edge to `pkg` (its __init__); keep it only where `pkg` is not
    # an ancestor of the importer (see the module docstring).
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not (d in modules and modules[d].name == "__init__.py" and name.startswith(d + "."))}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_graph_sees_known_edges():
    # the test would pass vacuously if the parser missed imports: check a few edges that exist
    graph = import_graph()
    assert "sorakit.catalog" in graph["sorakit.emulator._app"]
    assert "sorakit.emulator._store" in graph["sorakit.emulator.openai"]
    assert "sorakit.engine._engine" in graph["sorakit.engine._studio"]
    # and a function-local one
    assert "sorakit.emulator._render" in graph["sorakit.emulator._app"]


def test_cycles_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ACYCLIC)
def test_no_import_circle_in(package):
    found = [c for c in cycles(import_graph()) if any(m == package or m.startswith(package + ".") for m in c)]
    assert found == [], f"import circles touching {package}: {found}"


def test_no_new_import_circle_elsewhere():
    found = {frozenset(c) for c in cycles(import_graph())}
    new = sorted(sorted(c) for c in found - set(KNOWN_CYCLES))
    gone = sorted(sorted(c) for c in set(KNOWN_CYCLES) - found)
    assert not new, f"new import circles in sorakit (break them, or list them in KNOWN_CYCLES with a reason): {new}"
    assert not gone, f"KNOWN_CYCLES lists circles that no longer exist; remove them: {gone}"


# The engine core (issue 22): its parts depend one way, nothing in them reaches back up into the
# façade or the Studio, and no part grows back into one big module or class.
CORE = "sorakit.engine._core"
CORE_ORDER = ["transitions", "http11", "transport", "runtime", "book", "leases", "create", "poll", "download", "cancel", "driver"]
"""Each part may import only parts earlier in this list."""
CORE_MAY_IMPORT = {"sorakit.engine._policy", "sorakit.engine._config"}
"""The only modules of `sorakit.engine` outside `_core` that the core may import (both sit at the
bottom of the engine: they import nothing of it)."""
MAX_FILE_LINES = 450
MAX_CLASS_LINES = 400


def test_the_engine_core_depends_one_way():
    graph = import_graph()
    parts = [m for m in graph if m.startswith(CORE + ".")]
    assert sorted(p.rpartition(".")[2] for p in parts) == sorted(CORE_ORDER), "update CORE_ORDER"
    for part in parts:
        rank = CORE_ORDER.index(part.rpartition(".")[2])
        for dep in graph[part]:
            if dep.startswith(CORE + "."):
                assert CORE_ORDER.index(dep.rpartition(".")[2]) < rank, f"{part} imports {dep}: against the order"
            elif dep.startswith("sorakit.engine"):
                assert dep in CORE_MAY_IMPORT, f"{part} imports {dep}: the core must not reach back up"
    for low in CORE_MAY_IMPORT:
        assert not any(d.startswith("sorakit.engine") for d in graph[low]), f"{low} must stay at the bottom"
    # the façade uses the core, never the other way round
    assert any(d.startswith(CORE + ".") for d in graph["sorakit.engine._engine"])
    assert not any(d.startswith(CORE + ".") for d in graph[CORE])     # the package docstring only


def test_no_engine_module_or_class_is_too_big():
    too_big = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_FILE_LINES:
            too_big.append(f"{path.relative_to(ROOT)}: {lines} lines (at most {MAX_FILE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_big.append(f"{path.relative_to(ROOT)}: class {node.name} is {size} lines "
                                   f"(at most {MAX_CLASS_LINES})")
    assert not too_big, too_big
