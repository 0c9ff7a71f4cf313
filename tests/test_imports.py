"""The package's modules import each other without a circle.

A circle among module-level imports makes the import order matter (a name used before its module
has finished running) and ties the modules of the circle into one. Only module-level imports are
edges: an import inside a function runs later, when every module is loaded, and one under
``if TYPE_CHECKING:`` never runs.
"""

from __future__ import annotations

import ast
import pathlib

import streameval

PACKAGE = pathlib.Path(streameval.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported: at the top level, or in its if/try blocks
    (not in functions or classes' methods, not under ``if TYPE_CHECKING:``)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(block)
            elif isinstance(node, (ast.With, ast.ClassDef)):  # a class body runs at import time too
                visit(node.body)

    visit(tree.body)
    return found


def _ancestors(module: str) -> set[str]:
    """The packages that hold module: importing it has run (or is running) their __init__ already."""
    parts = module.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts))}


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules whose code node makes run first: the module imported, the packages
    above it that are not already running, and a package of module's own when a name (not a
    submodule) is read from it, since that needs its __init__ to have got that far."""
    running = _ancestors(module) | {module}
    found: set[str] = set()

    def add(name: str) -> None:  # "import streameval.a.b" runs streameval.a's __init__ and streameval.a.b
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if prefix in modules and prefix not in running:
                found.add(prefix)

    if isinstance(node, ast.Import):
        for alias in node.names:
            add(alias.name)
        return found
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    add(source)
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        if submodule in modules:
            add(submodule)
        elif source in running and source != module:
            found.add(source)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths)
    graph = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[module] = set().union(*(_targets(node, module, is_package, modules)
                                      for node in _module_level_imports(tree)))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "streameval.binary" in graph["streameval"]
    assert "streameval.metrics" in graph["streameval.accumulator"]


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": set()}
    assert find_cycle(graph) == ["p.a", "p.b", "p.c", "p.a"]
    assert find_cycle({"p.a": {"p.b"}, "p.b": set()}) is None


def test_type_checking_and_function_level_imports_are_not_edges() -> None:
    tree = ast.parse(
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from . import b\n"
        "def f():\n    from . import c\n"
        "try:\n    from . import d\nexcept ImportError:\n    pass\n"
    )
    modules = {"p", "p.a", "p.b", "p.c", "p.d"}
    targets = set().union(*(_targets(node, "p.a", False, modules) for node in _module_level_imports(tree)))
    assert targets == {"p.d"}


def test_a_name_read_from_the_running_package_is_an_edge() -> None:
    modules = {"p", "p.a", "p.b", "p.q", "p.q.c"}
    (name_from_package,) = ast.parse("from p import load").body
    (submodule_of_package,) = ast.parse("from . import b").body
    (nested,) = ast.parse("import p.q.c").body
    assert _targets(name_from_package, "p.a", False, modules) == {"p"}  # p's __init__ must have run that far
    assert _targets(submodule_of_package, "p.a", False, modules) == {"p.b"}
    assert _targets(nested, "p.a", False, modules) == {"p.q", "p.q.c"}


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "module-level imports form a circle: " + " -> ".join(cycle or [])
