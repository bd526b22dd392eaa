"""The resident and manager flows: guests (A5), single-day and one-time codes (A4), couriers
and service providers (A8).

A resident acts only on their own doors and sees only what they created; whoever may manage
others' credentials (`permissions.acts_for_property`) acts on the whole property. Each flow
writes in the caller's transaction, queues its emails there, and publishes the changed doors'
access lists at once so per-lock status can be read back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.access_lists import schedule_from_json
from keyturn.cloud.access.codes import (
    CodeRefused,
    IssuedCode,
    create_single_day_code,
    is_single_day_code,
    issue_one_time_code,
)
from keyturn.cloud.access.errors import NotYours
from keyturn.cloud.access.keys.schemas import Window
from keyturn.cloud.access.keys.service import (
    check_door_is_callers,
    doors_at,
    live_grants,
    new_grant,
    schedule_json,
)
from keyturn.cloud.access.revocation import Credential, Revocation, revoke
from keyturn.cloud.access.rollout import LockStatus, lock_status, publish
from keyturn.cloud.access.sharing.schemas import GuestInvite, SingleDayCreate, VisitorCreate
from keyturn.cloud.auth import links
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.auth.permissions import Principal, acts_for_property
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
from keyturn.cloud.people.profiles import read_profile_at
from keyturn.cloud.web.formatting import key_hours, local_moment
from keyturn.protocol.messages import WindowSpec
from keyturn.rules.errors import InvalidGrant, InvalidSchedule
from keyturn.rules.grants import GUEST_MAX_LEAD, validate_courier_doors, validate_guest_window
from keyturn.rules.types import DoorKind, Role

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


Code = TypeVar("Code", SingleDayCode, OneTimeCode)


@dataclass(frozen=True, slots=True)
class SingleDayCodes:
    """The codes of one local day, one per door, and what the person sharing them must know."""

    local_date: date
    codes: list[IssuedCode]
    note: str


def _revoked(
    session: Session, master_key: bytes, property_id: str, credential: Credential, now: datetime
) -> Revocation:
    return revoke(
        session=session,
        master_key=master_key,
        property_id=property_id,
        credential=credential,
        now=now,
    )


def _grants_of_kind(
    property_id: str, kind: GrantKind, *conditions: ColumnElement[bool]
) -> Select[Grant]:
    """Grants of one kind on this property's keys, narrowed by `conditions`."""
    return (
        select(Grant)
        .join(Key, Key.id == Grant.key_id)
        .where(Key.property_id == property_id, Grant.kind == kind, *conditions)
    )


def _created_by(
    session: Session, principal: Principal, property_id: str, kind: GrantKind
) -> Select[Grant]:
    """Grants of one kind here that the caller made (everyone's, for the whole property)."""
    if acts_for_property(session, principal, property_id):
        return _grants_of_kind(property_id, kind)
    return _grants_of_kind(property_id, kind, Grant.created_by == principal.person_id)


def _own_grant(
    session: Session, principal: Principal, property_id: str, grant_id: str, kind: GrantKind
) -> Grant:
    """A grant of this kind here that the caller made (any, for the whole property), else 404."""
    grant = _created_grant(session, property_id, grant_id, kind)
    if grant.created_by != principal.person_id and not acts_for_property(
        session, principal, property_id
    ):
        raise NotFound()
    return grant


def _created_grant(session: Session, property_id: str, grant_id: str, kind: GrantKind) -> Grant:
    """A guest, courier or service-provider grant at this property, else 404."""
    grant = session.get(Grant, grant_id)
    if grant is None or grant.kind != kind or grant.key.property_id != property_id:
        raise NotFound()
    return grant


# Guests (A5)


def guests_of(*, session: Session, principal: Principal, property_id: str) -> Select[Grant]:
    """The guests the caller invited here (for the whole property: every guest)."""
    return _created_by(session, principal, property_id, GrantKind.GUEST)


def invite_guest(
    *,
    session: Session,
    config: AuthConfig,
    principal: Principal,
    property_id: str,
    invite: GuestInvite,
    now: datetime,
) -> Grant:
    """A guest Person with a Grant (kind guest, created by the inviter) and an invitation.

    A resident may share only a key they hold live and whose key may be shared; guest
    windows, when given, must lie inside the key's own schedule.
    """
    prop = session.get_one(Property, property_id)
    inviter = session.get_one(Person, principal.person_id)
    key = session.get(Key, invite.key_id)
    if key is None or key.property_id != prop.id:
        raise NotFound()
    if not acts_for_property(session, principal, property_id):
        holds = session.scalar(live_grants(session, inviter.id, now).where(Grant.key_id == key.id))
        if holds is None:
            raise NotFound()
        if not key.may_share:
            raise NotYours(f"key {key.name!r} may not be shared with guests")
    validate_guest_window(invite.starts_at, invite.ends_at, now)
    guest_key = _guest_key(session, key, invite.windows)
    guest = _person_with_role(
        session, config, prop.id, inviter.id, invite.email, invite.display_name, Role.GUEST, now
    )
    grant = new_grant(
        session=session,
        key=guest_key,
        person_id=guest.id,
        starts_at=max(invite.starts_at, now),
        ends_at=invite.ends_at,
        resident=False,
        created_by=inviter.id,
        kind=GrantKind.GUEST,
        now=now,
    )
    _mail_access(session, guest, inviter, prop, guest_key, grant, "has shared a key with you")
    return grant


def revoke_guest(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    grant_id: str,
    now: datetime,
) -> Revocation:
    """Revoke a guest's access; every lock of the key's doors drops it at its next sync."""
    grant = _own_grant(session, principal, property_id, grant_id, GrantKind.GUEST)
    return _revoked(session, master_key, property_id, grant, now)


def _guest_key(session: Session, key: Key, windows: Sequence[Window]) -> Key:
    """The key itself, or (with guest windows) a key with its doors and the guest's windows."""
    if not windows:
        return key
    own = schedule_json(windows)
    outer = schedule_from_json(key.schedule_json or {})
    if outer and not all(_inside(window, outer) for window in schedule_from_json(own)):
        raise InvalidSchedule("a guest's windows must lie inside the shared key's schedule")
    derived = Key(
        property_id=key.property_id,
        # Never the guest's name: a key's name would outlive the guest's erasure.
        name=_numbered_key_name(session, key.property_id, f"{key.name[:140]}, guest hours"),
        schedule_json=own,
        may_share=False,
        provides_doorcodes=False,
    )
    derived.doors = list(key.doors)
    session.add(derived)
    session.flush()
    return derived


def _numbered_key_name(session: Session, property_id: str, stem: str) -> str:
    """ "<stem> (N)", N one more than the property's keys of that stem so far: a name a person
    reads where the key is listed, unique at the property, without an id in it. Writers at a
    property take turns, so two requests never count the same N (`properties.write_locks`)."""
    prefix = f"{stem} ("
    taken = session.scalars(
        select(Key.name).where(
            Key.property_id == property_id, Key.name.startswith(prefix, autoescape=True)
        )
    ).all()
    numbers = [int(n) for name in taken if (n := name[len(prefix) : -1]).isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1})"


def _inside(window: WindowSpec, outer: Sequence[WindowSpec]) -> bool:
    return any(
        other.weekday == window.weekday
        and other.start_minute <= window.start_minute
        and window.end_minute <= other.end_minute
        for other in outer
    )


def _person_with_role(
    session: Session,
    config: AuthConfig,
    property_id: str,
    inviter_id: str,
    email: str,
    display_name: str,
    role: Role,
    now: datetime,
) -> Person:
    """The person with this email, given the role here (with an invitation) if they lack it."""
    person = session.scalars(select(Person).where(Person.email == email.lower())).first()
    if person is not None and session.scalar(
        select(RoleMembership.id).where(
            RoleMembership.person_id == person.id,
            RoleMembership.property_id == property_id,
            RoleMembership.role == role,
            RoleMembership.in_force(),
        )
    ):
        return person
    membership = links.invite(
        session=session,
        config=config,
        inviter_id=inviter_id,
        property_id=property_id,
        email=email,
        display_name=display_name,
        role=role,
        unit_id=None,
        now=now,
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
    zone = prop.zone
    until = f"until {local_moment(grant.ends_at, zone)}" if grant.ends_at else "until revoked"
    body = (
        f"Hello {person.display_name},\n\n"
        f"{giver.display_name} {what} at {prop.name}: {doors}.\n"
        f"From {local_moment(grant.starts_at, zone)} {until}; "
        f"hours: {key_hours(key.schedule_json or {})} (the building's local time).\n\n"
        "Sign in to the Keyturn app and enrol your phone to receive your mobile key.\n"
    )
    enqueue_mail(session, person.email, f"Your access to {prop.name}", body, person_id=person.id)


# Single-day codes (A4)


def create_single_day_codes(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    request: SingleDayCreate,
    now: datetime,
) -> SingleDayCodes:
    """One code per door for one local day; a resident only at doors of their own keys."""
    prop = session.get_one(Property, property_id)
    today = now.astimezone(prop.zone).date()
    if request.local_date > today + GUEST_MAX_LEAD:
        raise InvalidGrant("a single-day code may be made at most one year ahead")
    doors = doors_at(session, prop.id, request.door_ids)
    if not acts_for_property(session, principal, property_id):
        for door in doors:
            check_door_is_callers(
                session, principal.person_id, door, now, residence_needs_resident=True
            )
    codes = [
        create_single_day_code(
            session,
            master_key,
            door.id,
            request.local_date,
            principal.person_id,
            now,
            request.guest_label,
        )
        for door in doors
    ]
    note = SINGLE_DAY_NOTE.format(
        day=request.local_date.isoformat(), doors=", ".join(sorted(door.name for door in doors))
    )
    return SingleDayCodes(request.local_date, codes, note)


def single_day_codes_of(
    *, session: Session, principal: Principal, property_id: str
) -> Select[SingleDayCode]:
    """The single-day codes the caller made here (for the whole property: all of them)."""
    query = (
        select(SingleDayCode)
        .join(Door, Door.id == SingleDayCode.door_id)
        .where(Door.property_id == property_id)
    )
    if not acts_for_property(session, principal, property_id):
        query = query.where(SingleDayCode.created_by == principal.person_id)
    return query


def single_day_code(
    *, session: Session, principal: Principal, property_id: str, code_id: str
) -> SingleDayCode:
    """The code if it is at this property and the caller made it (or acts for the property)."""
    return _made_here(session, principal, property_id, SingleDayCode, code_id)


def single_day_locks(session: Session, row: SingleDayCode) -> list[LockStatus]:
    if row.revoked_at is None:
        return []
    return lock_status(session, [row.door_id], row.revoked_at)


def revoke_single_day_code(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    code_id: str,
    now: datetime,
) -> Revocation:
    """Revoke a single-day code; it may still work at a lock until that lock syncs (A4)."""
    row = _made_here(session, principal, property_id, SingleDayCode, code_id)
    return _revoked(session, master_key, property_id, row, now)


def email_single_day_code(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    code_id: str,
    code: str,
    to_address: str,
    now: datetime,
) -> None:
    """Email a single-day code its maker has just been shown to the guest's address.

    The maker sends back the code they hold; the cloud keeps no clear code and re-derives it
    only to check the two are the same, so this never tells anyone a code they did not have.
    """
    row = _made_here(session, principal, property_id, SingleDayCode, code_id)
    prop = session.get_one(Property, property_id)
    if row.revoked_at is not None or row.local_date < now.astimezone(prop.zone).date():
        raise CodeRefused("this code is revoked or its day has passed")
    if not is_single_day_code(session, master_key, row, code):
        raise CodeRefused("this is not the code that was made")
    door = session.get_one(Door, row.door_id)
    giver = session.get_one(Person, principal.person_id)
    name = read_profile_at(session, person=giver, property_id=property_id).display_name
    body = (
        "Hello,\n\n"
        f"{name} sends you a code for {door.name} at {prop.name}:\n\n"
        f"  {code.strip()}\n\n"
        f"Type it on the door's keypad on {row.local_date:%A %d %B %Y}, any time from midnight "
        "to midnight local time. It does not work on any other day.\n"
    )
    enqueue_mail(session, to_address, f"Your code for {door.name} at {prop.name}", body)


def _made_here(
    session: Session, principal: Principal, property_id: str, model: type[Code], code_id: str
) -> Code:
    """A code at this property that the caller made (any, for the whole property), else 404."""
    row = session.get(model, code_id)
    door = session.get(Door, row.door_id) if row is not None else None
    if row is None or door is None or door.property_id != property_id:
        raise NotFound()
    if row.created_by != principal.person_id and not acts_for_property(
        session, principal, property_id
    ):
        raise NotFound()
    return row


# One-time codes and couriers (A8)


def _same_code(first: str | None) -> Callable[[int], int]:
    """A draw that offers `first` once (so a courier gets one code where it is free)."""
    offered = [int(first)] if first is not None else []

    def draw(space: int) -> int:
        if offered and offered[0] < space:
            return offered.pop()
        return secrets.randbelow(space)

    return draw


def issue_one_time_codes(
    *,
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


def create_one_time_code(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    door_id: str,
    valid_minutes: int,
    now: datetime,
) -> IssuedCode:
    """A short code for one door; a resident may make one only for a door of their own keys."""
    door = doors_at(session, property_id, [door_id])[0]
    if not acts_for_property(session, principal, property_id):
        check_door_is_callers(
            session, principal.person_id, door, now, residence_needs_resident=True
        )
    return issue_one_time_codes(
        session=session,
        master_key=master_key,
        doors=[door],
        created_by=principal.person_id,
        valid_minutes=valid_minutes,
        now=now,
    )[0]


def revoke_one_time_code(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    code_id: str,
    now: datetime,
) -> Revocation:
    """Revoke a one-time (or courier) code; its lock drops it at its next sync."""
    row = _made_here(session, principal, property_id, OneTimeCode, code_id)
    return _revoked(session, master_key, property_id, row, now)


def create_courier_codes(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    created_by: str,
    door_ids: Sequence[str],
    valid_minutes: int,
    now: datetime,
) -> list[IssuedCode]:
    """Courier codes at the chosen doors, never at a residence door (A8, 422 otherwise)."""
    doors = doors_at(session, property_id, door_ids)
    validate_courier_doors(_by_name(doors))
    return issue_one_time_codes(
        session=session,
        master_key=master_key,
        doors=doors,
        created_by=created_by,
        valid_minutes=valid_minutes,
        now=now,
    )


def _by_name(doors: Sequence[Door]) -> dict[str, DoorKind]:
    """The doors' kinds by the names a refusal shows (a repeated name keeps each door apart)."""
    named: dict[str, DoorKind] = {}
    for door in doors:
        label = door.name if door.name not in named else f"{door.name} ({len(named) + 1})"
        named[label] = door.kind
    return named


def add_courier(
    *,
    session: Session,
    config: AuthConfig,
    principal: Principal,
    property_id: str,
    visitor: VisitorCreate,
    now: datetime,
) -> Grant:
    """A courier with a key of their own, never for residence doors (A8, 422 otherwise)."""
    return _add_visitor(
        session, config, principal, property_id, visitor, GrantKind.COURIER, now, everywhere=True
    )


def couriers_of(*, property_id: str) -> Select[Grant]:
    """Every courier key granted at this property."""
    return _grants_of_kind(property_id, GrantKind.COURIER)


def revoke_courier(
    *, session: Session, master_key: bytes, property_id: str, grant_id: str, now: datetime
) -> Revocation:
    """Revoke a courier's key; locks drop it at their next sync."""
    grant = _created_grant(session, property_id, grant_id, GrantKind.COURIER)
    return _revoked(session, master_key, property_id, grant, now)


# Service providers (A8)


def add_service_provider(
    *,
    session: Session,
    config: AuthConfig,
    principal: Principal,
    property_id: str,
    visitor: VisitorCreate,
    now: datetime,
) -> Grant:
    """Book a service provider on a weekly schedule (a resident: for their own doors)."""
    everywhere = acts_for_property(session, principal, property_id)
    return _add_visitor(
        session,
        config,
        principal,
        property_id,
        visitor,
        GrantKind.SERVICE_PROVIDER,
        now,
        everywhere=everywhere,
    )


def service_providers_of(
    *, session: Session, principal: Principal, property_id: str
) -> Select[Grant]:
    """The service providers the caller booked here (for the whole property: all)."""
    return _created_by(session, principal, property_id, GrantKind.SERVICE_PROVIDER)


def revoke_service_provider(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    grant_id: str,
    now: datetime,
) -> Revocation:
    """Cancel a service provider's booking; locks drop it at their next sync."""
    grant = _own_grant(session, principal, property_id, grant_id, GrantKind.SERVICE_PROVIDER)
    return _revoked(session, master_key, property_id, grant, now)


def _add_visitor(
    session: Session,
    config: AuthConfig,
    principal: Principal,
    property_id: str,
    visitor: VisitorCreate,
    kind: GrantKind,
    now: datetime,
    *,
    everywhere: bool,
) -> Grant:
    """A courier or service provider with a key of their own for the chosen doors.

    Couriers never get residence doors (A8); a service provider needs a weekly schedule, and
    unless the creator acts `everywhere` they may book one only for doors of their own keys.
    """
    prop = session.get_one(Property, property_id)
    creator = session.get_one(Person, principal.person_id)
    doors = doors_at(session, prop.id, visitor.door_ids)
    if kind == GrantKind.COURIER:
        validate_courier_doors(_by_name(doors))
    elif not visitor.windows:
        raise InvalidSchedule("a service provider comes on a weekly schedule: give windows")
    if not everywhere:
        for door in doors:
            check_door_is_callers(session, creator.id, door, now, residence_needs_resident=True)
    key = Key(
        property_id=prop.id,
        name=_numbered_key_name(
            session, prop.id, f"{kind.value.replace('_', ' ')}: {visitor.display_name[:140]}"
        ),
        schedule_json=schedule_json(visitor.windows),
    )
    key.doors = list(doors)
    session.add(key)
    session.flush()
    role = Role.COURIER if kind == GrantKind.COURIER else Role.SERVICE_PROVIDER
    person = _person_with_role(
        session, config, prop.id, creator.id, visitor.email, visitor.display_name, role, now
    )
    grant = new_grant(
        session=session,
        key=key,
        person_id=person.id,
        starts_at=max(visitor.starts_at or now, now),
        ends_at=visitor.ends_at,
        resident=False,
        created_by=creator.id,
        kind=kind,
        now=now,
    )
    _mail_access(session, person, creator, prop, key, grant, "has given you access")
    return grant
