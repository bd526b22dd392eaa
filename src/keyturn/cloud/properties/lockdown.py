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
from keyturn.cloud.properties.service import in_property


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


def property_lockdown(*, session: Session, property_id: str) -> LockdownState:
    """Whether the property is locked down and which locks have applied the last change."""
    return _property_state(session, session.get_one(Property, property_id))


def _property_state(session: Session, prop: Property) -> LockdownState:
    since = prop.lockdown_changed_at
    doors = _door_ids(session, prop.id)
    locks = lock_status(session, doors, since) if since is not None else []
    return LockdownState(prop.id, None, prop.lockdown, since, locks)


def set_property_lockdown(
    *, session: Session, master_key: bytes, property_id: str, on: bool, now: datetime
) -> LockdownState:
    """Lock down (or reopen) every door of the property from each lock's next sync."""
    prop = session.get_one(Property, property_id)
    if prop.lockdown != on or prop.lockdown_changed_at is None:
        prop.lockdown = on
        prop.lockdown_changed_at = now
        publish(session, master_key, _door_ids(session, prop.id), now)
    return _property_state(session, prop)


def door_lockdown(*, session: Session, property_id: str, door_id: str) -> LockdownState:
    """The door's own lockdown and, per lock, whether its list already carries it."""
    return _door_state(session, in_property(session, Door, door_id, property_id))


def _door_state(session: Session, door: Door) -> LockdownState:
    since = door.lockdown_changed_at
    locks = lock_status(session, [door.id], since) if since is not None else []
    return LockdownState(door.property_id, door.id, door.lockdown, since, locks)


def set_door_lockdown(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    door_id: str,
    on: bool,
    now: datetime,
) -> LockdownState:
    """Lock down (or reopen) one door from its lock's next sync."""
    door = in_property(session, Door, door_id, property_id)
    if door.lockdown != on or door.lockdown_changed_at is None:
        door.lockdown = on
        door.lockdown_changed_at = now
        publish(session, master_key, [door.id], now)
    return _door_state(session, door)
