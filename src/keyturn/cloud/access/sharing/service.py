"""The resident and manager flows: guests (A5), single-day and one-time codes (A4), couriers
and service providers (A8), and the lost phone (A6).

Each flow writes in the caller's transaction, queues its emails there, and publishes the
changed doors' access lists at once so per-lock status can be read back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access.codes import (
    IssuedCode,
    create_single_day_code,
    issue_one_time_code,
)
from keyturn.cloud.access.errors import NotYours
from keyturn.cloud.access.keys.service import (
    check_door_is_callers,
    create_grant,
    doors_at,
    live_grants,
    schedule_json,
)
from keyturn.cloud.access.rollout import LockStatus, lock_status, publish
from keyturn.cloud.auth import links
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.db import new_id
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import (
    Door,
    Grant,
    GrantKind,
    Key,
    OneTimeCode,
    Person,
    Property,
    RoleMembership,
    SingleDayCode,
)
from keyturn.rules.errors import InvalidGrant, InvalidSchedule
from keyturn.rules.grants import GUEST_MAX_LEAD, validate_courier_doors, validate_guest_window
from keyturn.rules.types import Role

SINGLE_DAY_NOTE = (
    "Valid from local midnight to midnight on {day} at {doors}; each lock checks it offline. "
    "Once shared it cannot be guaranteed revoked: a revocation reaches each lock only when "
    "that lock next syncs."
)


SINGLE_DAY_REVOKED_NOTE = (
    "Revocation recorded. The code may STILL OPEN the door at any lock that has not synced "
    "since: locks verify single-day codes offline, so each lock stops accepting it only once "
    "it has synced. `locks` shows which locks have applied the revocation."
)


def invite_guest(
    session: Session,
    config: AuthConfig,
    prop: Property,
    inviter: Person,
    acts_as_manager: bool,
    body: Any,
    now: datetime,
) -> Grant:
    """A guest Person with a Grant (kind guest, created by the inviter) and an invitation.

    A resident may share only a key they hold live and whose key may be shared; guest
    windows, when given, must lie inside the key's own schedule.
    """
    key = session.get(Key, body.key_id)
    if key is None or key.property_id != prop.id:
        raise NotFound()
    if not acts_as_manager:
        holds = session.scalar(live_grants(session, inviter.id, now).where(Grant.key_id == key.id))
        if holds is None:
            raise NotFound()
        if not key.may_share:
            raise NotYours(f"key {key.name!r} may not be shared with guests")
    validate_guest_window(body.starts_at, body.ends_at, now)
    guest_key = _guest_key(session, key, [w.model_dump() for w in body.windows])
    guest = _person_with_role(session, config, prop.id, inviter.id, body, Role.GUEST, now)
    grant = create_grant(
        session,
        guest_key,
        guest.id,
        max(body.starts_at, now),
        body.ends_at,
        resident=False,
        created_by=inviter.id,
        kind=GrantKind.GUEST,
        now=now,
    )
    _mail_access(session, guest, inviter, prop, guest_key, grant, "has shared a key with you")
    return grant


def _guest_key(session: Session, key: Key, windows: list[dict[str, Any]]) -> Key:
    """The key itself, or (with guest windows) a key with its doors and the guest's windows."""
    if not windows:
        return key
    own = schedule_json(windows)
    outer = key.schedule_json.get("windows", []) if key.schedule_json else []
    if outer and not all(_inside(window, outer) for window in own["windows"]):
        raise InvalidSchedule("a guest's windows must lie inside the shared key's schedule")
    derived = Key(
        property_id=key.property_id,
        name=f"{key.name[:150]} (guest {new_id()[:8]})",
        schedule_json=own,
        may_share=False,
        provides_doorcodes=False,
    )
    derived.doors = list(key.doors)
    session.add(derived)
    session.flush()
    return derived


def _inside(window: dict[str, Any], outer: Sequence[dict[str, Any]]) -> bool:
    start, end = _minute(window["start"]), _minute(window["end"]) or 1440
    return any(
        other["weekday"] == window["weekday"]
        and _minute(other["start"]) <= start
        and end <= (_minute(other["end"]) or 1440)
        for other in outer
    )


def _minute(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def _person_with_role(
    session: Session,
    config: AuthConfig,
    property_id: str,
    inviter_id: str,
    body: Any,
    role: Role,
    now: datetime,
) -> Person:
    """The person with this email, given the role here (with an invitation) if they lack it."""
    person = session.scalars(select(Person).where(Person.email == body.email.lower())).first()
    if person is not None and session.scalar(
        select(RoleMembership.id).where(
            RoleMembership.person_id == person.id,
            RoleMembership.property_id == property_id,
            RoleMembership.role == role,
        )
    ):
        return person
    membership = links.invite(
        session, config, inviter_id, property_id, body.email, body.display_name, role, None, now
    )
    return session.get_one(Person, membership.person_id)


def _mail_access(
    session: Session,
    person: Person,
    giver: Person,
    prop: Property,
    key: Key,
    grant: Grant,
    what: str,
) -> None:
    if person.email is None:
        return
    doors = ", ".join(sorted(door.name for door in key.doors))
    until = grant.ends_at.isoformat() if grant.ends_at else "until revoked"
    body = (
        f"Hello {person.display_name},\n\n"
        f"{giver.display_name} {what} at {prop.name}: {doors}.\n"
        f"From {grant.starts_at.isoformat()} to {until}.\n\n"
        "Sign in to the Keyturn app and enrol your phone to receive your mobile key.\n"
    )
    enqueue_mail(session, person.email, f"Your access to {prop.name}", body, person_id=person.id)


def created_grant(
    session: Session, property_id: str, grant_id: str, kinds: Sequence[GrantKind]
) -> Grant:
    """A guest, courier or service-provider grant at this property, else 404."""
    grant = session.get(Grant, grant_id)
    if grant is None or grant.kind not in kinds or grant.key.property_id != property_id:
        raise NotFound()
    return grant


def create_single_day_codes(
    session: Session,
    master_key: bytes,
    prop: Property,
    creator_id: str,
    acts_as_manager: bool,
    body: Any,
    now: datetime,
) -> list[IssuedCode]:
    """One code per door for one local day; a resident only at doors of their own keys."""
    today = now.astimezone(prop.zone).date()
    if body.local_date > today + GUEST_MAX_LEAD:
        raise InvalidGrant("a single-day code may be made at most one year ahead")
    doors = doors_at(session, prop.id, body.door_ids)
    if not acts_as_manager:
        for door in doors:
            check_door_is_callers(session, creator_id, door, now, residence_needs_resident=True)
    return [
        create_single_day_code(
            session, master_key, door.id, body.local_date, creator_id, now, body.guest_label
        )
        for door in doors
    ]


def single_day_at(
    session: Session, property_id: str, code_id: str, viewer_id: str, acts_as_manager: bool
) -> SingleDayCode:
    """The code if it is at this property and the viewer made it (or manages codes)."""
    row = session.get(SingleDayCode, code_id)
    door = session.get(Door, row.door_id) if row is not None else None
    if row is None or door is None or door.property_id != property_id:
        raise NotFound()
    if not acts_as_manager and row.created_by != viewer_id:
        raise NotFound()
    return row


def single_day_locks(session: Session, row: SingleDayCode) -> list[LockStatus]:
    if row.revoked_at is None:
        return []
    return lock_status(session, [row.door_id], row.revoked_at)


def _same_code(first: str | None) -> Callable[[int], int]:
    """A draw that offers `first` once (so a courier gets one code where it is free)."""
    offered = [int(first)] if first is not None else []

    def draw(space: int) -> int:
        if offered and offered[0] < space:
            return offered.pop()
        return secrets.randbelow(space)

    return draw


def issue_one_time_codes(
    session: Session,
    master_key: bytes,
    doors: Sequence[Door],
    created_by: str,
    valid_minutes: int,
    now: datetime,
    issued_for: str | None = None,
) -> list[IssuedCode]:
    """A one-time code per door, the same digits at every door where they are free there."""
    issued: list[IssuedCode] = []
    for door in doors:
        draw = _same_code(issued[0].code if issued else None)
        code = issue_one_time_code(
            session, master_key, door.id, created_by, valid_minutes, now, draw
        )
        if issued_for is not None:
            session.get_one(OneTimeCode, code.record_id).issued_for = issued_for
        issued.append(code)
    publish(session, master_key, [door.id for door in doors], now)
    return issued


def courier_codes(
    session: Session,
    master_key: bytes,
    property_id: str,
    creator_id: str,
    door_ids: Sequence[str],
    valid_minutes: int,
    now: datetime,
) -> list[IssuedCode]:
    """Courier codes at the chosen doors, never at a residence door (A8, 422 otherwise)."""
    doors = doors_at(session, property_id, door_ids)
    validate_courier_doors({door.id: door.kind for door in doors})
    return issue_one_time_codes(session, master_key, doors, creator_id, valid_minutes, now)


def one_time_at(
    session: Session, property_id: str, code_id: str, viewer_id: str, acts_as_manager: bool
) -> OneTimeCode:
    row = session.get(OneTimeCode, code_id)
    door = session.get(Door, row.door_id) if row is not None else None
    if row is None or door is None or door.property_id != property_id:
        raise NotFound()
    if not acts_as_manager and row.created_by != viewer_id:
        raise NotFound()
    return row


def add_visitor(
    session: Session,
    config: AuthConfig,
    prop: Property,
    creator: Person,
    acts_as_manager: bool,
    body: Any,
    kind: GrantKind,
    now: datetime,
) -> Grant:
    """A courier or service provider with a key of their own for the chosen doors.

    Couriers never get residence doors (A8); a service provider needs a weekly schedule, and a
    resident may book one only for doors of their own keys.
    """
    doors = doors_at(session, prop.id, body.door_ids)
    windows = [w.model_dump() for w in body.windows]
    if kind == GrantKind.COURIER:
        validate_courier_doors({door.id: door.kind for door in doors})
    elif not windows:
        raise InvalidSchedule("a service provider comes on a weekly schedule: give windows")
    if not acts_as_manager:
        for door in doors:
            check_door_is_callers(session, creator.id, door, now, residence_needs_resident=True)
    key = Key(
        property_id=prop.id,
        name=f"{kind.value.replace('_', ' ')}: {body.display_name[:150]} ({new_id()[:8]})",
        schedule_json=schedule_json(windows),
    )
    key.doors = list(doors)
    session.add(key)
    session.flush()
    role = Role.COURIER if kind == GrantKind.COURIER else Role.SERVICE_PROVIDER
    person = _person_with_role(session, config, prop.id, creator.id, body, role, now)
    grant = create_grant(
        session,
        key,
        person.id,
        max(body.starts_at or now, now),
        body.ends_at,
        resident=False,
        created_by=creator.id,
        kind=kind,
        now=now,
    )
    _mail_access(session, person, creator, prop, key, grant, "has given you access")
    return grant
