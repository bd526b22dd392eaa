"""The rule that fixes a door's kind: it may change only while no lock is bound to the door.

The check runs before every flush of a cloud session (installed by keyturn.cloud.sessions), so
every writer (API, CLI, jobs) gets the same DoorKindLocked error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Device, Door, DoorKindLocked


def _bound_device_id(session: Session, door: Door) -> str | None:
    """The id of the lock bound to DOOR, counting changes not yet flushed."""
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Device) and (
            (door.id is not None and obj.door_id == door.id)
            or door in inspect(obj).attrs.door.history.added
        ):
            return obj.id or "(new lock)"
    bound = session.execute(select(Device.id).where(Device.door_id == door.id)).scalars()
    for device_id in bound:
        device = session.get(Device, device_id)
        if device is not None and device.door_id == door.id:
            return device_id
    return None


def door_kind_fixed_once_bound(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse a change of Door.kind when a device is (or is being) bound to the door."""
    for obj in session.dirty:
        if not isinstance(obj, Door):
            continue
        history = inspect(obj).attrs.kind.history
        if not history.added:
            continue
        # An expired attribute has no old value in memory; the database has it.
        old_kind = (
            history.deleted[0]
            if history.deleted
            else session.execute(select(Door.kind).where(Door.id == obj.id)).scalar()
        )
        if old_kind is None or old_kind == history.added[0]:
            continue
        device_id = _bound_device_id(session, obj)
        if device_id is not None:
            raise DoorKindLocked(
                f"door {obj.name!r} is bound to lock {device_id}; its kind stays "
                f"{old_kind!s} until the lock is unbound"
            )
