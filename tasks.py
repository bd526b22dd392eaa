#!/usr/bin/env python3
"""Set up a private virtual environment and run the demo or the whole test suite.

Needs nothing but Python 3.11+ and git; everything else is installed into ./.venv from
the project's own pyproject.toml, and re-installed only when that file changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".keyturn-installed"
TEST_WORKERS = 2
# The browser tests drive Debian's Chromium; nothing downloads a browser from anywhere else.
CHROMIUM = Path("/usr/bin/chromium")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, check=False)  # noqa: S603
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv() -> None:
    """Create .venv and install keyturn with its dev extras unless already current."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older python3
        sys.exit(f"keyturn needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def chromium_install_steps(
    chromium: Path = CHROMIUM, is_root: bool | None = None
) -> list[list[str]]:
    """The apt-get commands that install Debian's chromium, tried in order until one succeeds
    (the package lists are fetched only if the plain install fails); none if it is there."""
    if chromium.exists():
        return []
    sudo = [] if (is_root if is_root is not None else os.geteuid() == 0) else ["sudo", "-n"]
    install = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    return [install, [*sudo, "apt-get", "update", "-q"], install]


def ensure_chromium() -> None:
    """Install Debian's chromium for the browser tests if it is missing."""
    steps = chromium_install_steps()
    if not steps:
        return
    env = {**os.environ, **APT_ENV}
    first, *retry = steps
    print("+", " ".join(first), flush=True)
    done = subprocess.run(first, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False)  # noqa: S603
    if done.returncode == 0:
        return
    for step in retry:
        print("+", " ".join(step), flush=True)
        result = subprocess.run(step, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False)  # noqa: S603
        if result.returncode != 0:
            sys.exit(f"could not install chromium (needed by the browser tests): {' '.join(step)}")


def demo(args: list[str]) -> None:
    _run(BIN / "keyturn", "demo", *args)


def test(args: list[str]) -> None:
    _run(BIN / "ruff", "check", "src", "tests", "benchmarks", "tasks.py")
    _run(BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "tasks.py")
    _run(BIN / "mypy")
    _run(BIN / "lint-imports")
    smoke_dir = ROOT / ".keyturn" / "smoke"
    _run(BIN / "keyturn", "--data-dir", smoke_dir, "demo", "--fresh", "--for", "10s")
    ensure_chromium()
    # pytest last, so its summary line closes the output. Without arguments: everything on
    # two workers (pytest-xdist), then the races against a live server alone, unhurried.
    if args:
        _run(BIN / "python", "-m", "pytest", *args)
        return
    _run(BIN / "python", "-m", "pytest", "-q", "-n", str(TEST_WORKERS), "-m", "not serial")
    _run(BIN / "python", "-m", "pytest", "-q", "-m", "serial")


COMMANDS = {"demo": demo, "test": test}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: python3 tasks.py demo [ARGS...] | test [PYTEST ARGS...]")
    ensure_venv()
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
