"""The refusal tree drawn in `keyturn.cloud.errors` is the tree in the code, both ways, and no
module that defines a refusal imports the web framework."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys

import keyturn.cloud
from keyturn.cloud import errors, refusals
from keyturn.cloud.errors import Refusal

# One drawn class: its indent (two spaces a level), its name, dot leaders, its module.
DRAWN = re.compile(r"^(?P<indent>(  )*)(?P<name>[A-Z]\w*) \.+ (?P<module>[a-z_.]+)$")
WEB_FRAMEWORKS = ("fastapi", "starlette")

# Where each class lives (under keyturn.cloud) and its parent in the tree.
Placed = dict[str, tuple[str, str | None]]


def _drawn() -> Placed:
    placed: Placed = {}
    path: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        found = DRAWN.match(line)
        if found is None:
            continue
        depth = len(found["indent"]) // 2
        assert depth <= len(path), f"{line!r} is indented deeper than under a drawn parent"
        del path[depth:]
        assert found["name"] not in placed, f"{found['name']} is drawn twice"
        placed[found["name"]] = (found["module"], path[-1] if path else None)
        path.append(found["name"])
    return placed


def _refusal_classes() -> list[type[Refusal]]:
    """Refusal and every subclass of it in keyturn, after importing every cloud module."""
    for info in pkgutil.walk_packages(keyturn.cloud.__path__, prefix="keyturn.cloud."):
        importlib.import_module(info.name)
    found: list[type[Refusal]] = []
    waiting: list[type[Refusal]] = [Refusal]
    while waiting:
        cls = waiting.pop()
        if cls.__module__.startswith("keyturn.") and cls not in found:
            found.append(cls)
        waiting.extend(cls.__subclasses__())
    return found


def _defined() -> Placed:
    placed: Placed = {}
    for cls in _refusal_classes():
        assert cls.__name__ not in placed, f"two refusals are named {cls.__name__}"
        parent = next((base for base in cls.__bases__ if issubclass(base, Refusal)), None)
        module = cls.__module__.removeprefix("keyturn.cloud.")
        placed[cls.__name__] = (module, parent.__name__ if parent else None)
    return placed


def test_the_drawn_tree_is_every_refusal_in_its_module_under_its_parent() -> None:
    drawn, defined = _drawn(), _defined()
    assert sorted(set(defined) - set(drawn)) == [], "refusals missing from the drawing"
    assert sorted(set(drawn) - set(defined)) == [], "drawn classes that are no refusal"
    assert drawn == defined


def test_every_rules_error_mapped_at_the_edge_is_named_in_the_docstring() -> None:
    named = set(re.findall(r"\w+", errors.__doc__ or ""))
    assert {cls.__name__ for cls, *_ in refusals.RULES} <= named


def _imported_modules(cls: type) -> set[str]:
    tree = ast.parse(inspect.getsource(sys.modules[cls.__module__]))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            imported.add(node.module)
    return imported


def test_no_module_that_defines_a_refusal_imports_the_web_framework() -> None:
    framework_bound = {
        cls.__module__
        for cls in _refusal_classes()
        if any(name.split(".")[0] in WEB_FRAMEWORKS for name in _imported_modules(cls))
    }
    assert framework_bound == set()


def test_the_errors_modules_load_without_the_web_framework() -> None:
    modules = sorted(
        info.name
        for info in pkgutil.walk_packages(keyturn.cloud.__path__, prefix="keyturn.cloud.")
        if info.name.rsplit(".", 1)[-1] == "errors"
    )
    assert "keyturn.cloud.errors" in modules
    code = (
        f"import sys\nimport {', '.join(modules)}\n"
        f"assert not {set(WEB_FRAMEWORKS)!r} & set(sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
