"""How far a change has reached the locks: publish it at once, then read per-lock status.

A change made at instant T is applied by a lock once the lock has applied the door's newest
access-list version published at or before T (published in the same transaction as the
change, see `publish`); any later version contains it too, because versions only grow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.devices.service import current_access_list
from keyturn.cloud.models import AccessListVersion, Device, Door

PENDING_NOTE = (
    "Locks work offline: a lock keeps honouring what it knew until it next syncs. `locks` "
    "says, per lock, whether it has applied this change yet."
)


@dataclass(frozen=True, slots=True)
class LockStatus:
    """One lock's progress on one change: the version that carries it and the one applied."""

    device_id: str
    door_id: str
    door_name: str
    required_version: int | None
    applied_version: int
    applied: bool
    last_sync_at: datetime | None


def _live_locks(session: Session, door_ids: Iterable[str]) -> list[tuple[Device, Door]]:
    wanted = sorted(set(door_ids))
    if not wanted:
        return []
    rows = session.execute(
        select(Device, Door)
        .join(Door, Door.id == Device.door_id)
        .where(Device.door_id.in_(wanted), Device.retired_at.is_(None))
        .order_by(Door.name, Device.id)
    ).all()
    return [(device, door) for device, door in rows]


def publish(session: Session, master_key: bytes, door_ids: Iterable[str], now: datetime) -> None:
    """Publish a new list version at every door with a live lock whose list just changed.

    Call it after the change is flushed, in the same transaction, with the change's instant.
    """
    session.flush()
    for door_id in sorted({door.id for _device, door in _live_locks(session, door_ids)}):
        current_access_list(session, master_key, door_id, now)


def _required_version(session: Session, door_id: str, since: datetime) -> int | None:
    """The first version that carries a change made at `since`, or None if none does yet."""
    at_change = session.scalar(
        select(func.max(AccessListVersion.version)).where(
            AccessListVersion.door_id == door_id, AccessListVersion.created_at <= since
        )
    )
    if at_change is not None:
        return int(at_change)
    later = session.scalar(
        select(func.min(AccessListVersion.version)).where(
            AccessListVersion.door_id == door_id, AccessListVersion.created_at >= since
        )
    )
    return int(later) if later is not None else None


def lock_status(session: Session, door_ids: Iterable[str], since: datetime) -> list[LockStatus]:
    """Per live lock at these doors: has it applied the change made at `since`?"""
    statuses = []
    for device, door in _live_locks(session, door_ids):
        required = _required_version(session, door.id, since)
        applied = device.applied_access_list_version
        statuses.append(
            LockStatus(
                device_id=device.id,
                door_id=door.id,
                door_name=door.name,
                required_version=required,
                applied_version=applied,
                applied=required is not None and applied >= required,
                last_sync_at=device.last_sync_at,
            )
        )
    return statuses
