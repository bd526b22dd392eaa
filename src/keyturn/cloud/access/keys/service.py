"""Keys and grants at a property: create and change keys, give them to people, read live grants.

Ids named in a request body are checked against the property (422 unknown-reference), so no
property sees another's objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.access_lists import schedule_from_json
from keyturn.cloud.access.doors import key_door_ids
from keyturn.cloud.access.errors import NotYours
from keyturn.cloud.access.keys.schemas import KeyUpdate, Window
from keyturn.cloud.access.revocation import Revocation, revoke
from keyturn.cloud.access.rollout import publish
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.auth.permissions import Action, Principal, keys_in_reach
from keyturn.cloud.errors import InvalidReference
from keyturn.cloud.models import (
    Door,
    Grant,
    GrantKind,
    Key,
    key_doors,
)
from keyturn.cloud.people.service import referenced_person
from keyturn.cloud.privacy import audit
from keyturn.cloud.properties.service import check_unit, in_property
from keyturn.rules.errors import InvalidGrant
from keyturn.rules.grants import (
    resident_status_start,
    validate_courier_doors,
    validate_doors_added,
)
from keyturn.rules.types import DoorKind


def doors_at(session: Session, property_id: str, door_ids: Sequence[str]) -> list[Door]:
    """The doors named in a request, all at this property, else 422 unknown-reference."""
    wanted = sorted(set(door_ids))
    found = list(
        session.scalars(select(Door).where(Door.id.in_(wanted), Door.property_id == property_id))
    )
    missing = sorted(set(wanted) - {door.id for door in found})
    if missing:
        raise InvalidReference(f"no door {', '.join(missing)} at this property")
    return sorted(found, key=lambda door: door.id)


def schedule_json(windows: Sequence[Window]) -> dict[str, object]:
    """`Key.schedule_json` for the windows, checked by the access service's parser."""
    data: dict[str, object] = {"windows": [window.model_dump() for window in windows]}
    schedule_from_json(data)
    return data


def keys_at(*, session: Session, principal: Principal, property_id: str) -> Select[Key]:
    """The property's keys the caller may read: a manager with specific keys sees only theirs."""
    query = select(Key).where(Key.property_id == property_id)
    reach = keys_in_reach(session, principal, Action.KEYS_READ, property_id)
    if reach is not None:
        query = query.where(Key.id.in_(sorted(reach)))
    return query


def create_key(
    *,
    session: Session,
    property_id: str,
    name: str,
    door_ids: Sequence[str],
    windows: Sequence[Window],
    may_share: bool,
    provides_doorcodes: bool,
    unit_id: str | None = None,
) -> Key:
    """A key of this property; with `unit_id` (a unit here) it is that unit's key."""
    check_unit(session, property_id, unit_id)
    key = Key(
        property_id=property_id,
        name=name,
        schedule_json=schedule_json(windows),
        may_share=may_share,
        provides_doorcodes=provides_doorcodes,
        unit_id=unit_id,
    )
    key.doors = doors_at(session, property_id, door_ids)
    session.add(key)
    session.flush()
    return key


def update_key(*, session: Session, property_id: str, key_id: str, changes: KeyUpdate) -> Key:
    """Change a key; fields left out (or null) stay. A key held by couriers still may never
    open a residence door (A8), and a key that carries resident status gains none (V2)."""
    key = in_property(session, Key, key_id, property_id)
    given = changes.model_dump(exclude_unset=True, exclude_none=True)
    if "door_ids" in given:
        del given["door_ids"]
        doors = doors_at(session, key.property_id, changes.door_ids or [])
        if _has_kind(session, key.id, GrantKind.COURIER):
            validate_courier_doors({door.id: door.kind for door in doors})
        before = set(key_door_ids(key))
        validate_doors_added(
            {door.id: door.kind for door in doors if door.id not in before},
            _carries_resident_status(session, key.id),
        )
        key.doors = doors
    if "windows" in given:
        del given["windows"]
        key.schedule_json = schedule_json(changes.windows or [])
    for name, value in given.items():
        setattr(key, name, value)
    session.flush()
    return key


def _has_kind(session: Session, key_id: str, kind: GrantKind) -> bool:
    found = session.scalar(
        select(Grant.id).where(Grant.key_id == key_id, Grant.kind == kind).limit(1)
    )
    return found is not None


def _carries_resident_status(session: Session, key_id: str) -> bool:
    """Whether the key was ever granted with resident status, revoked or ended grants too."""
    found = session.scalar(
        select(Grant.id).where(Grant.key_id == key_id, Grant.resident.is_(True)).limit(1)
    )
    return found is not None


def grants_of(*, session: Session, property_id: str, key_id: str) -> Select[Grant]:
    """Everyone the key was granted to, revoked grants included."""
    key = in_property(session, Key, key_id, property_id)
    return select(Grant).where(Grant.key_id == key.id)


def _grant_at(session: Session, property_id: str, key_id: str, grant_id: str) -> Grant:
    key = in_property(session, Key, key_id, property_id)
    grant = session.get(Grant, grant_id)
    if grant is None or grant.key_id != key.id:
        raise NotFound()
    return grant


def create_grant(
    *,
    session: Session,
    property_id: str,
    key_id: str,
    person_id: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    resident: bool,
    created_by: str,
    now: datetime,
) -> Grant:
    """Grant the key to a person of this property from `starts_at` (default now)."""
    key = in_property(session, Key, key_id, property_id)
    person = referenced_person(session, property_id, person_id)
    return new_grant(
        session=session,
        key=key,
        person_id=person.id,
        starts_at=starts_at or now,
        ends_at=ends_at,
        resident=resident,
        created_by=created_by,
        now=now,
    )


def give_key(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    key_id: str,
    person_id: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    resident: bool,
    created_by: str,
    now: datetime,
) -> Grant:
    """`create_grant`, then publish the key's doors at once, so the per-lock status of the
    grant (rollout.lock_status from `now`) tells which locks have it."""
    grant = create_grant(
        session=session,
        property_id=property_id,
        key_id=key_id,
        person_id=person_id,
        starts_at=starts_at,
        ends_at=ends_at,
        resident=resident,
        created_by=created_by,
        now=now,
    )
    publish(session, master_key, key_door_ids(grant.key), now)
    return grant


def new_grant(
    *,
    session: Session,
    key: Key,
    person_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    resident: bool,
    created_by: str | None,
    kind: GrantKind = GrantKind.STANDARD,
    now: datetime,
) -> Grant:
    """Grant the key to a person from `starts_at` to an optional `ends_at`.

    Resident status (V2) is never given to oneself and begins no earlier than `now`, when it
    is given; each grant of it is audited: who gave it, to whom, for which key and doors.
    """
    if resident:
        starts_at = resident_status_start(
            giver_id=created_by, holder_id=person_id, starts_at=starts_at, now=now
        )
    if ends_at is not None and ends_at <= starts_at:
        since = " (resident status starts now at the earliest)" if resident else ""
        raise InvalidGrant(f"a grant must end after it starts{since}")
    grant = Grant(
        person_id=person_id,
        key_id=key.id,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        resident=resident,
        created_by=created_by,
    )
    session.add(grant)
    session.flush()
    if resident:
        audit.record(
            session,
            now=now,
            actor_person_id=created_by,
            action="grant.resident_status",
            object_type="grant",
            object_id=grant.id,
            property_id=key.property_id,
            detail={
                "person_id": person_id,
                "key_id": key.id,
                "door_ids": key_door_ids(key),
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat() if ends_at is not None else None,
            },
        )
    return grant


def revoke_grant(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    key_id: str,
    grant_id: str,
    now: datetime,
) -> Revocation:
    """Revoke a grant; every lock of the key's doors drops it at its next sync."""
    grant = _grant_at(session, property_id, key_id, grant_id)
    return revoke(
        session=session, master_key=master_key, property_id=property_id, credential=grant, now=now
    )


def live_grants(session: Session, person_id: str, now: datetime) -> Select[Grant]:
    """The person's grants that are in force at `now`."""
    return select(Grant).where(
        Grant.person_id == person_id,
        Grant.revoked_at.is_(None),
        Grant.starts_at <= now,
        or_(Grant.ends_at.is_(None), Grant.ends_at > now),
    )


def live_grants_at_door(
    session: Session, person_id: str, door_id: str, now: datetime
) -> list[tuple[Grant, Key]]:
    rows = session.execute(
        live_grants(session, person_id, now)
        .add_columns(Key)
        .join(Key, Key.id == Grant.key_id)
        .join(key_doors, key_doors.c.key_id == Key.id)
        .where(key_doors.c.door_id == door_id)
    ).all()
    return [(grant, key) for grant, key in rows]


def check_door_is_callers(
    session: Session, person_id: str, door: Door, now: datetime, *, residence_needs_resident: bool
) -> None:
    """Refuse (403 not-yours) a door the caller holds no live grant for.

    At a residence door the grant must carry resident status when asked, so a guest cannot
    hand out codes to someone else's flat.
    """
    grants = live_grants_at_door(session, person_id, door.id, now)
    if residence_needs_resident and door.kind == DoorKind.RESIDENCE:
        grants = [(grant, key) for grant, key in grants if grant.resident]
    if not grants:
        raise NotYours(f"you hold no live key for door {door.name!r}")
