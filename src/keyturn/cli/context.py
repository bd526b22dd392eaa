"""Shared state of one CLI invocation: the settings and the Rich consoles, and the one way a
command finds the property named on its command line.

Commands call `settings()` instead of reading the environment themselves.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Property
from keyturn.errors import UserError
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


def property_named(session: Session, name_or_id: str) -> Property:
    """The property with this id or name; one line naming the problem if none or several."""
    found = list(
        session.scalars(
            select(Property).where(or_(Property.id == name_or_id, Property.name == name_or_id))
        )
    )
    if not found:
        raise UserError(f"no property named {name_or_id!r}")
    if len(found) > 1:
        raise UserError(f"several properties are named {name_or_id!r}: give its id")
    return found[0]
