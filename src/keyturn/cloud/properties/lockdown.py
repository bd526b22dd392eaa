"""Lockdown of a property or of one door, and how far it has reached the locks.

Locks learn of a lockdown (and of its end) at their next sync, so every answer lists per
lock whether it has applied the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access.rollout import LockStatus, lock_status, publish
from keyturn.cloud.models import Door, Property


@dataclass(frozen=True, slots=True)
class LockdownState:
    """Whether the property or door is locked down, since when, and per-lock progress."""

    property_id: str
    door_id: str | None
    lockdown: bool
    changed_at: datetime | None
    locks: list[LockStatus]


def _door_ids(session: Session, property_id: str) -> list[str]:
    return list(session.scalars(select(Door.id).where(Door.property_id == property_id)))


def property_lockdown(session: Session, prop: Property) -> LockdownState:
    since = prop.lockdown_changed_at
    doors = _door_ids(session, prop.id)
    locks = lock_status(session, doors, since) if since is not None else []
    return LockdownState(prop.id, None, prop.lockdown, since, locks)


def set_property_lockdown(
    session: Session, master_key: bytes, prop: Property, on: bool, now: datetime
) -> LockdownState:
    """Lock down (or reopen) every door of the property from each lock's next sync."""
    if prop.lockdown != on or prop.lockdown_changed_at is None:
        prop.lockdown = on
        prop.lockdown_changed_at = now
        publish(session, master_key, _door_ids(session, prop.id), now)
    return property_lockdown(session, prop)


def door_lockdown(session: Session, door: Door) -> LockdownState:
    """The door's own lockdown and, per lock, whether its list already carries it."""
    since = door.lockdown_changed_at
    locks = lock_status(session, [door.id], since) if since is not None else []
    return LockdownState(door.property_id, door.id, door.lockdown, since, locks)


def set_door_lockdown(
    session: Session, master_key: bytes, door: Door, on: bool, now: datetime
) -> LockdownState:
    """Lock down (or reopen) one door from its lock's next sync."""
    if door.lockdown != on or door.lockdown_changed_at is None:
        door.lockdown = on
        door.lockdown_changed_at = now
        publish(session, master_key, [door.id], now)
    return door_lockdown(session, door)
