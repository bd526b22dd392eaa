"""Every module of keyturn imports on its own, first, in a fresh interpreter.

Importing a model must register every mapper (so relationships across domains resolve), and
nothing may depend on another module having been imported before it.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import keyturn

WORKERS = 4
TIMEOUT_S = 60


def _modules() -> list[str]:
    """Every module of the package except `__main__`, which runs the command line."""
    found = pkgutil.walk_packages(keyturn.__path__, prefix="keyturn.")
    return sorted(info.name for info in found if not info.name.endswith(".__main__"))


def _import_alone(module: str) -> tuple[str, int, str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return module, done.returncode, done.stderr


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    modules = _modules()
    assert "keyturn.cloud.auth.permissions" in modules
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(_import_alone, modules))
    failed = {module: stderr for module, code, stderr in results if code != 0}
    assert not failed, "\n\n".join(f"{module}:\n{stderr}" for module, stderr in failed.items())


def test_importing_a_model_configures_every_mapper_without_the_web_framework() -> None:
    code = (
        "import sys\n"
        "from sqlalchemy.orm import configure_mappers\n"
        "from keyturn.cloud.models import Device\n"
        "configure_mappers()\n"
        "assert 'fastapi' not in sys.modules, 'importing a model imported FastAPI'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stderr
