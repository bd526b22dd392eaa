"""What the portal's guests-and-codes page shows: the caller's guests, single-day codes,
courier codes and service providers, with names for people and doors.

The rows are the sharing service's own queries (a resident sees what they made, whoever acts
for the property sees all); this module only adds the names and the doors a form may offer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access.keys.service import live_grants
from keyturn.cloud.access.rollout import LockStatus
from keyturn.cloud.access.sharing.service import (
    guests_of,
    service_providers_of,
    single_day_codes_of,
    single_day_locks,
)
from keyturn.cloud.auth.permissions import Principal, acts_for_property
from keyturn.cloud.models import (
    Door,
    Grant,
    Key,
    OneTimeCode,
    Person,
    Property,
    SingleDayCode,
)
from keyturn.cloud.people.profiles import known_name
from keyturn.rules.types import DoorKind

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Choice:
    """Something a form offers: its id (the value sent) and its name (what is shown)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class VisitorShown:
    """A guest's or service provider's grant, as a person reads it."""

    grant_id: str
    name: str
    given_by: str
    doors: list[str]
    schedule: list[str]
    starts_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None
    status: str


@dataclass(frozen=True, slots=True)
class SingleDayShown:
    id: str
    door: str
    local_date: date
    guest_label: str | None
    created_by: str
    status: str
    locks: list[LockStatus]


@dataclass(frozen=True, slots=True)
class CourierCodeShown:
    id: str
    door: str
    created_by: str
    created_at: datetime
    valid_minutes: int
    first_used_at: datetime | None
    status: str


@dataclass(frozen=True, slots=True)
class SharingShown:
    """Each section the caller may see (None: not asked for) and what its forms offer."""

    guests: list[VisitorShown] | None
    single_day_codes: list[SingleDayShown] | None
    courier_codes: list[CourierCodeShown] | None
    service_providers: list[VisitorShown] | None
    shareable_keys: list[Choice]
    own_doors: list[Choice]
    courier_doors: list[Choice]
    today: date


def grant_status(
    starts_at: datetime, ends_at: datetime | None, revoked_at: datetime | None, now: datetime
) -> str:
    if revoked_at is not None:
        return "revoked"
    if ends_at is not None and ends_at <= now:
        return "ended"
    if starts_at > now:
        return "upcoming"
    return "active"


def schedule_words(schedule: dict[str, object] | None) -> list[str]:
    """ "Mon 09:00 to 17:00" per weekly window; empty for any time."""
    windows = (schedule or {}).get("windows") or []
    assert isinstance(windows, list)
    return [
        f"{WEEKDAYS[int(window['weekday'])]} {window['start']} to {window['end']}"
        for window in windows
    ]


def _names(session: Session, portfolio_id: str, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({person_id for person_id in ids if person_id is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(Person.id, known_name(Person.id, portfolio_id)).where(Person.id.in_(wanted))
    )
    return {person_id: name for person_id, name in rows}


def _visitors(
    session: Session, grants: list[Grant], portfolio_id: str, now: datetime
) -> list[VisitorShown]:
    names = _names(
        session, portfolio_id, [g.person_id for g in grants] + [g.created_by for g in grants]
    )
    return [
        VisitorShown(
            grant_id=grant.id,
            name=names.get(grant.person_id, "someone"),
            given_by=names.get(grant.created_by or "", "the building"),
            doors=sorted(door.name for door in grant.key.doors),
            schedule=schedule_words(grant.key.schedule_json),
            starts_at=grant.starts_at,
            ends_at=grant.ends_at,
            revoked_at=grant.revoked_at,
            status=grant_status(grant.starts_at, grant.ends_at, grant.revoked_at, now),
        )
        for grant in grants
    ]


def _door_names(session: Session, property_id: str) -> dict[str, Door]:
    return {
        door.id: door
        for door in session.scalars(select(Door).where(Door.property_id == property_id))
    }


def _single_day_rows(
    session: Session, principal: Principal, prop: Property, doors: dict[str, Door], now: datetime
) -> list[SingleDayShown]:
    query = single_day_codes_of(session=session, principal=principal, property_id=prop.id)
    codes = list(session.scalars(query.order_by(SingleDayCode.local_date.desc(), SingleDayCode.id)))
    makers = _names(session, prop.portfolio_id, (code.created_by for code in codes))
    today = now.astimezone(prop.zone).date()
    return [
        SingleDayShown(
            id=code.id,
            door=doors[code.door_id].name,
            local_date=code.local_date,
            guest_label=code.guest_label,
            created_by=makers.get(code.created_by or "", "the building"),
            status="revoked"
            if code.revoked_at is not None
            else ("past" if code.local_date < today else "valid"),
            locks=single_day_locks(session, code),
        )
        for code in codes
    ]


def _courier_rows(
    session: Session,
    principal: Principal,
    prop: Property,
    doors: dict[str, Door],
    *,
    everywhere: bool,
) -> list[CourierCodeShown]:
    """Courier and one-time codes (not the temporary codes of a lost phone, A6)."""
    query = (
        select(OneTimeCode)
        .join(Door, Door.id == OneTimeCode.door_id)
        .where(Door.property_id == prop.id, OneTimeCode.issued_for.is_(None))
        .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id)
    )
    if not everywhere:
        query = query.where(OneTimeCode.created_by == principal.person_id)
    codes = list(session.scalars(query))
    makers = _names(session, prop.portfolio_id, (code.created_by for code in codes))
    return [
        CourierCodeShown(
            id=code.id,
            door=doors[code.door_id].name,
            created_by=makers.get(code.created_by or "", "the building"),
            created_at=code.created_at,
            valid_minutes=code.valid_minutes,
            first_used_at=code.first_used_at,
            status="revoked"
            if code.revoked_at is not None
            else ("used" if code.first_used_at is not None else "not used yet"),
        )
        for code in codes
    ]


def _offered(
    session: Session,
    principal: Principal,
    property_id: str,
    doors: dict[str, Door],
    now: datetime,
    *,
    everywhere: bool,
) -> tuple[list[Key], list[Door]]:
    """The keys a guest may be given and the doors codes may be made for, by this caller."""
    by_name = sorted(doors.values(), key=lambda door: door.name)
    if everywhere:
        keys = session.scalars(select(Key).where(Key.property_id == property_id).order_by(Key.name))
        return list(keys), by_name
    held = list(session.scalars(live_grants(session, principal.person_id, now)))
    shareable = {grant.key.id: grant.key for grant in held if grant.key.may_share}
    own = {
        door.id
        for grant in held
        for door in grant.key.doors
        if door.kind != DoorKind.RESIDENCE or grant.resident
    }
    keys_by_name = sorted(shareable.values(), key=lambda key: key.name)
    return keys_by_name, [door for door in by_name if door.id in own]


def sharing_shown(
    *,
    session: Session,
    principal: Principal,
    property_id: str,
    now: datetime,
    guests: bool,
    single_day: bool,
    couriers: bool,
    service_providers: bool,
) -> SharingShown:
    """The sections asked for, newest first, with the keys and doors the caller's forms offer.

    Forms offer only what the service would accept: a resident's own live keys that may be
    shared and the doors of their live keys; couriers never a residence door (A8).
    """
    prop = session.get_one(Property, property_id)
    doors = {
        door.id: door
        for door in session.scalars(select(Door).where(Door.property_id == property_id))
    }
    everywhere = acts_for_property(session, principal, property_id)
    guest_rows = None
    if guests:
        query = guests_of(session=session, principal=principal, property_id=property_id)
        grants = list(session.scalars(query.order_by(Grant.starts_at.desc(), Grant.id)))
        guest_rows = _visitors(session, grants, prop.portfolio_id, now)
    provider_rows = None
    if service_providers:
        query = service_providers_of(session=session, principal=principal, property_id=property_id)
        grants = list(session.scalars(query.order_by(Grant.starts_at.desc(), Grant.id)))
        provider_rows = _visitors(session, grants, prop.portfolio_id, now)
    keys, own = _offered(session, principal, property_id, doors, now, everywhere=everywhere)
    return SharingShown(
        guests=guest_rows,
        single_day_codes=_single_day_rows(session, principal, prop, doors, now)
        if single_day
        else None,
        courier_codes=_courier_rows(session, principal, prop, doors, everywhere=everywhere)
        if couriers
        else None,
        service_providers=provider_rows,
        shareable_keys=[Choice(key.id, key.name) for key in keys],
        own_doors=[Choice(door.id, door.name) for door in own],
        courier_doors=[
            Choice(door.id, door.name)
            for door in sorted(doors.values(), key=lambda door: door.name)
            if door.kind != DoorKind.RESIDENCE
        ],
        today=now.astimezone(prop.zone).date(),
    )
