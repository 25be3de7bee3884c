"""The floors: imports run down, never up, and no modules import each other in a circle.

Every import in every module counts, including those inside functions: an import moved into a
function to dodge a circle is still a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "townsquare"

# From the ground floor up; packages on one floor must not import each other either.
FLOORS: list[set[str]] = [
    {"core"}, {"web"}, {"accounts"}, {"merchants"}, {"miniapps"}, {"gateway"},
    {"events", "messaging"}, {"payments"}, {"delivery"}, {"ordering"},
    {"scoring", "community"}, {"traffic"}, {"simulation"},
]
# The composition roots: the app factory, the CLI and the metadata of every table.
ROOTS = {"app", "cli", "models"}
# `townsquare/__init__.py` (the version) is below the ground floor: anyone may read it.
LEVEL = {"__init__": -1} | {p: level for level, floor in enumerate(FLOORS) for p in floor}


def _module_name(path: Path) -> str:
    parts = ("townsquare",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """The modules `name` imports (a package's `__init__` where the name is not a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def test_every_package_has_a_floor() -> None:
    packages = {_package(m) for m in MODULES} - ROOTS
    assert packages <= set(LEVEL), f"packages without a floor: {sorted(packages - set(LEVEL))}"


def test_imports_run_down_the_floors() -> None:
    upward = sorted(
        f"{source} → {target}"
        for source, targets in GRAPH.items() if _package(source) not in ROOTS
        for target in targets
        if _package(target) != _package(source)
        and (_package(target) in ROOTS or LEVEL[_package(target)] >= LEVEL[_package(source)])
    )
    assert not upward, "imports that run up or across a floor:\n" + "\n".join(upward)


def _circles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for start in GRAPH:
        if start in index:
            continue
        work = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_no_modules_import_each_other_in_a_circle() -> None:
    circles = _circles()
    assert not circles, "import circles:\n" + "\n".join(" ↔ ".join(c) for c in circles)


@pytest.mark.parametrize(("source", "target", "upward"), [
    ("townsquare.web.deps", "townsquare.accounts.models", True),
    ("townsquare.traffic.x", "townsquare.scoring", False),
    ("townsquare.scoring.x", "townsquare.community", True),
])
def test_the_rule_itself(source: str, target: str, upward: bool) -> None:
    """The floor rule says what it should (so the real checks above cannot pass by accident)."""
    s, t = LEVEL[_package(source)], LEVEL[_package(target)]
    assert (t >= s) is upward
