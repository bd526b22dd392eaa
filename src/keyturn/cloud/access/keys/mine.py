"""What a person holds at a property, read for themself: their keys (doors, weekly windows,
validity, resident status) and their personal doorcodes per door, never a code.

Read-only; the resident app's home shows it. Whether a code may be reset here is the same
test `credentials.service.reset_own_doorcode` makes, offered only so the page hides a button
the service would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Door, Doorcode, Grant, Key
from keyturn.rules.types import DoorKind


@dataclass(frozen=True, slots=True)
class KeyHeld:
    """One of the person's grants: the key's name, doors and windows, and its validity."""

    key_name: str
    doors: list[str]
    windows: list[tuple[int, str, str]]
    starts_at: datetime
    ends_at: datetime | None
    resident: bool
    may_share: bool
    upcoming: bool


@dataclass(frozen=True, slots=True)
class DoorcodeDoor:
    """A door where the person's key gives a personal doorcode, and their code there."""

    door_id: str
    door_name: str
    issued_at: datetime | None  # None: no code yet
    may_reset: bool  # their own residence door, where they hold resident status


@dataclass(frozen=True, slots=True)
class MyAccess:
    keys: list[KeyHeld]
    doorcodes: list[DoorcodeDoor]


def _windows(key: Key) -> list[tuple[int, str, str]]:
    windows = (key.schedule_json or {}).get("windows") or []
    return [
        (int(window["weekday"]), str(window["start"]), str(window["end"])) for window in windows
    ]


def my_access(*, session: Session, property_id: str, person_id: str, now: datetime) -> MyAccess:
    """The person's own grants here that are in force or still to come, and their doorcodes."""
    grants = list(
        session.scalars(
            select(Grant)
            .join(Key, Key.id == Grant.key_id)
            .where(
                Grant.person_id == person_id,
                Key.property_id == property_id,
                Grant.revoked_at.is_(None),
                or_(Grant.ends_at.is_(None), Grant.ends_at > now),
            )
            .order_by(Key.name, Grant.starts_at, Grant.id)
        )
    )
    keys = [
        KeyHeld(
            key_name=grant.key.name,
            doors=sorted(door.name for door in grant.key.doors),
            windows=_windows(grant.key),
            starts_at=grant.starts_at,
            ends_at=grant.ends_at,
            resident=grant.resident,
            may_share=grant.key.may_share,
            upcoming=grant.starts_at > now,
        )
        for grant in grants
    ]
    live = [grant for grant in grants if grant.starts_at <= now and grant.key.provides_doorcodes]
    doors: dict[str, Door] = {door.id: door for grant in live for door in grant.key.doors}
    resident_at = {door.id for grant in live if grant.resident for door in grant.key.doors}
    issued = dict(
        session.execute(
            select(Doorcode.door_id, Doorcode.created_at).where(
                Doorcode.person_id == person_id,
                Doorcode.door_id.in_(sorted(doors)),
                Doorcode.revoked_at.is_(None),
            )
        ).all()
    )
    doorcodes = [
        DoorcodeDoor(
            door_id=door.id,
            door_name=door.name,
            issued_at=issued.get(door.id),
            may_reset=door.kind == DoorKind.RESIDENCE and door.id in resident_at,
        )
        for door in sorted(doors.values(), key=lambda door: door.name)
    ]
    return MyAccess(keys=keys, doorcodes=doorcodes)
