"""The pure cores are typed for their callers: no `Any` in a public signature (mypy, run by
`make lint`, checks the rest with strict flags; this checks what a flag cannot: public only)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _strict_modules() -> list[str]:
    """The modules pyproject.toml holds to mypy's strict flags (a `pkg.*` names its modules)."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["mypy"]["overrides"]
    names: list[str] = []
    for override in config:
        if not override.get("disallow_untyped_defs"):
            continue
        for name in override["module"]:
            if name.endswith(".*"):
                package = importlib.import_module(name[:-2])
                prefix = f"{package.__name__}."
                names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix)]
            else:
                names.append(name)
    return sorted(names)


def _mentions_any(annotation: object) -> bool:
    """The annotation as written (these modules postpone evaluation) names `Any`."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return re.search(r"\bAny\b", text) is not None


def _public_callables(module: ModuleType) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value):
            found.append((name, value))
        elif inspect.isclass(value):
            found += [(f"{name}.{attr}", member) for attr, member in vars(value).items()
                      if inspect.isfunction(member) and not attr.startswith("_")]
            found.append((f"{name}.__init__", value.__init__))
    return found


STRICT = _strict_modules()


def test_the_strict_list_names_the_pure_cores() -> None:
    for core in ("townsquare.scoring.model.score", "townsquare.traffic.planning.planner",
                 "townsquare.traffic.serving.ranking", "townsquare.community.gate.codes"):
        assert core in STRICT


@pytest.mark.parametrize("module_name", STRICT)
def test_no_any_in_public_signatures(module_name: str) -> None:
    module = importlib.import_module(module_name)
    loose = []
    for name, function in _public_callables(module):
        if not inspect.isfunction(function) or function.__module__ != module_name:
            continue  # an inherited __init__ (object's, a dataclass's generated one is checked)
        loose += [f"{name}: {param}" for param, annotation in function.__annotations__.items()
                  if _mentions_any(annotation)]
    assert not loose, f"`Any` in public signatures of {module_name}: {loose}"
