"""Shared state of one CLI invocation: the settings and the Rich consoles, and the one way a
command finds the property named on its command line.

Commands call `settings()` instead of reading the environment themselves.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from keyturn.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

_overrides: dict[str, object] = {}


def set_data_dir(path: Path | None) -> None:
    if path is not None:
        _overrides["data_dir"] = path


def settings() -> Settings:
    """Settings from the environment plus the global command-line options."""
    return load_settings(**_overrides)
