"""The row locks writers take first, so that concurrent writers at a building queue up
instead of deadlocking or publishing the same access-list version twice.

The order: (1) the property's row, taken by every API request that writes at a property
before its route runs (`auth.deps`); (2) the access revision counters a flush moves, in
sorted order (`access.revisions.bump`); (3) the rows of the doors whose list gets a new
version, in id order, before the newest version is read (`devices.service`). Anything else
comes after. FOR NO KEY UPDATE leaves rows that merely point at these free to be written.
SQLite has one writer at a time: there a transaction's first write waits for the database
instead, so these are no-ops.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Door, Property


def _one_writer_at_a_time(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def lock_property(session: Session, property_id: str) -> None:
    """Hold the property's row until the transaction ends: writers there go one at a time."""
    if _one_writer_at_a_time(session):
        return
    session.execute(
        select(Property.id).where(Property.id == property_id).with_for_update(key_share=True)
    )


def lock_doors(session: Session, door_ids: Iterable[str]) -> None:
    """Hold the doors' rows, taken in id order, until the transaction ends."""
    wanted = sorted(set(door_ids))
    if not wanted or _one_writer_at_a_time(session):
        return
    session.execute(
        select(Door.id).where(Door.id.in_(wanted)).order_by(Door.id).with_for_update(key_share=True)
    )
