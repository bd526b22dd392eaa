"""Move-in and move-out: a resident's membership at a unit as a residency with a start and an
end, and the one fan-out that takes away everything that depended on it when it ends.

A residency is a resident RoleMembership with `starts_at`/`ends_at` (the lease) and `ended_at`
(when its end took effect). Moving in grants the unit's key(s) (`Key.unit_id`) with resident
status over the lease window. Ending a residency (a move-out now, a lease end reached by the
`end_due_residencies` job, a removed resident role) revokes, in one act published once:

1. the person's resident grants of the unit's keys;
2. their personal doorcodes at the unit's doors (doors whose `unit_id` is the unit);
3. what they shared from the key they lose: guest, service-provider and courier grants they
   created whose key opens a door of the unit, and the single-day and one-time codes they made
   at the unit's doors;
4. when they keep no other role at the property: everything they hold there (every grant
   still in force, every doorcode, every active keycard, the temporary codes sent to them, and
   everything of point 3 anywhere at the property). A phone registration is revoked only when
   the person keeps no role and no live grant anywhere: it may serve another property or
   portfolio (DESIGN.md §7), and its mobile keys here die with the revoked grants, whose ids
   every lock here learns as revoked key ids.

A role the person keeps at the property (staff, say) keeps its own grants and the credentials
they carry. Each lock refuses the revoked credentials from its next sync; until then it decides
offline with what it knew, which the per-lock status in the MoveOut report shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.doors import key_door_ids
from keyturn.cloud.access.keys.service import new_grant
from keyturn.cloud.access.revocation import Credential, revoke_all
from keyturn.cloud.access.rollout import LockStatus, lock_status, publish
from keyturn.cloud.auth import links
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import Conflict, NotFound
from keyturn.cloud.auth.permissions import Action, Principal, authorize
from keyturn.cloud.errors import InvalidReference, Refusal
from keyturn.cloud.models import (
    Door,
    Doorcode,
    Grant,
    GrantKind,
    Key,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    Person,
    Profile,
    Property,
    RoleMembership,
    SingleDayCode,
    Unit,
    key_doors,
)
from keyturn.cloud.people.profiles import portfolio_of
from keyturn.cloud.people.service import add_person
from keyturn.cloud.privacy import audit
from keyturn.cloud.properties.service import check_unit
from keyturn.rules.types import DoorKind, Role

_C = TypeVar("_C", Grant, Doorcode, SingleDayCode, OneTimeCode)

# Grants a person hands on to others from a key they hold.
SHARED_KINDS = (GrantKind.GUEST, GrantKind.SERVICE_PROVIDER, GrantKind.COURIER)


class InvalidLease(Refusal):
    """The residency's dates do not make a lease: an end before the start, or already past."""

    status = 422
    kind = "invalid-lease"
    title = "The residency's dates are not valid"


class NoUnitKey(Refusal):
    """The unit has neither a key of its own nor a residence door to make one from."""

    status = 409
    kind = "no-unit-key"
    title = "The unit has no key to grant"


class ResidencyState(StrEnum):
    UPCOMING = "upcoming"
    CURRENT = "current"
    SCHEDULED_MOVE_OUT = "scheduled_move_out"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Revoked:
    """The ids of what a move-out revoked, per kind of credential."""

    grants: tuple[str, ...] = ()
    shared_grants: tuple[str, ...] = ()  # guests, service providers, couriers they created
    doorcodes: tuple[str, ...] = ()
    keycards: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    single_day_codes: tuple[str, ...] = ()
    one_time_codes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class MoveOut:
    """A move-out: scheduled (nothing revoked yet) or done, and how far the locks have it."""

    membership_id: str
    person_id: str
    unit_id: str
    ends_at: datetime
    scheduled: bool
    revoked: Revoked = field(default_factory=Revoked)
    locks: list[LockStatus] = field(default_factory=list)


def residency_state(membership: RoleMembership, now: datetime) -> ResidencyState:
    """Where a residency stands at `now`."""
    if membership.ended_at is not None:
        return ResidencyState.ENDED
    if membership.starts_at is not None and membership.starts_at > now:
        return ResidencyState.UPCOMING
    if membership.ends_at is not None:
        return ResidencyState.SCHEDULED_MOVE_OUT
    return ResidencyState.CURRENT


def residencies_at(property_id: str, unit_id: str | None = None) -> Select[RoleMembership]:
    """The property's residencies (ended ones too), optionally of one unit."""
    query = select(RoleMembership).where(
        RoleMembership.property_id == property_id, RoleMembership.role == Role.RESIDENT
    )
    if unit_id is not None:
        query = query.where(RoleMembership.unit_id == unit_id)
    return query.order_by(RoleMembership.created_at, RoleMembership.id)


def residency_at(session: Session, property_id: str, membership_id: str) -> RoleMembership:
    """A resident membership of this property, else 404."""
    membership = session.get(RoleMembership, membership_id)
    if (
        membership is None
        or membership.property_id != property_id
        or membership.role != Role.RESIDENT
    ):
        raise NotFound()
    return membership


def _open_residency(session: Session, property_id: str, membership_id: str) -> RoleMembership:
    membership = residency_at(session, property_id, membership_id)
    if membership.ended_at is not None:
        raise Conflict("this residency has already ended")
    return membership


def _check_dates(starts_at: datetime, ends_at: datetime | None, now: datetime) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidLease("a residency must end after it starts")
    if ends_at is not None and ends_at <= now:
        raise InvalidLease("a new residency must end in the future")


def unit_key_ids(unit_id: str) -> Select[str]:
    return select(Key.id).where(Key.unit_id == unit_id)


def _unit_door_ids(unit_id: str) -> Select[str]:
    return select(Door.id).where(Door.unit_id == unit_id)


def _unit_keys(session: Session, unit: Unit) -> list[Key]:
    """The unit's keys, or a new one over the unit's residence doors if it has none."""
    keys = list(session.scalars(select(Key).where(Key.unit_id == unit.id).order_by(Key.id)))
    if keys:
        return keys
    doors = list(
        session.scalars(
            select(Door)
            .where(Door.unit_id == unit.id, Door.kind == DoorKind.RESIDENCE)
            .order_by(Door.id)
        )
    )
    if not doors:
        raise NoUnitKey(
            f"unit {unit.label!r} has no key and no residence door: add its door or a key "
            "for it (with unit_id) first"
        )
    taken = set(session.scalars(select(Key.name).where(Key.property_id == unit.property_id)))
    name = f"Unit {unit.label}"
    suffix = 2
    while name in taken:
        name, suffix = f"Unit {unit.label} ({suffix})", suffix + 1
    key = Key(property_id=unit.property_id, unit_id=unit.id, name=name, schedule_json={})
    key.doors = doors
    session.add(key)
    session.flush()
    return [key]


def _residency_grants(session: Session, membership: RoleMembership) -> list[Grant]:
    """The person's resident grants of the unit's keys that are not revoked."""
    assert membership.unit_id is not None
    return list(
        session.scalars(
            select(Grant)
            .where(
                Grant.person_id == membership.person_id,
                Grant.resident.is_(True),
                Grant.revoked_at.is_(None),
                Grant.key_id.in_(unit_key_ids(membership.unit_id)),
            )
            .order_by(Grant.id)
        )
    )


def _doors_of(grants: Iterable[Grant]) -> set[str]:
    return {door_id for grant in grants for door_id in key_door_ids(grant.key)}


def _audit(
    session: Session, membership: RoleMembership, action: str, by: str | None, now: datetime
) -> None:
    audit.record(
        session,
        now=now,
        actor_person_id=by,
        action=action,
        object_type="residency",
        object_id=membership.id,
        property_id=membership.property_id,
        detail={
            "person_id": membership.person_id,
            "unit_id": membership.unit_id,
            "starts_at": _iso(membership.starts_at),
            "ends_at": _iso(membership.ends_at),
        },
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def resident_for_move_in(
    *,
    session: Session,
    property_id: str,
    person_id: str | None,
    email: str | None,
    display_name: str | None,
    now: datetime,
) -> Person:
    """The person a move-in names: by id a person this property's portfolio knows (a role at
    one of its properties, ended ones too, or a profile with it), else 422; by email the person
    with that address, added with `display_name` if nobody has it."""
    if person_id is None:
        assert email is not None
        found = session.scalars(select(Person).where(Person.email == email.lower())).first()
        if found is not None:
            return found
        return add_person(session=session, display_name=display_name or email, email=email, now=now)
    portfolio_id = portfolio_of(session, property_id)
    known = session.scalar(
        select(
            or_(
                exists().where(
                    RoleMembership.person_id == person_id,
                    RoleMembership.property_id.in_(
                        select(Property.id).where(Property.portfolio_id == portfolio_id)
                    ),
                ),
                exists().where(
                    Profile.person_id == person_id, Profile.portfolio_id == portfolio_id
                ),
            )
        )
    )
    person = session.get(Person, person_id)
    if not known or person is None:
        raise InvalidReference(f"no person {person_id} in this portfolio")
    return person


def move_in_as(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    person_id: str,
    unit_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    now: datetime,
    config: AuthConfig,
) -> RoleMembership:
    """`move_in` for a caller with people.manage, who must outrank the person if they already
    have a role here (one with none has no rank to outrank); the person is welcomed by email."""
    here = _keeps_role(session, person_id, property_id)
    authorize(
        session,
        principal,
        Action.PEOPLE_MANAGE,
        property_id,
        subject_id=person_id if here else None,
    )
    return move_in(
        session=session,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        unit_id=unit_id,
        starts_at=starts_at,
        ends_at=ends_at,
        by=principal.person_id,
        now=now,
        welcome=config,
    )


def change_lease_as(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    membership_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    now: datetime,
) -> RoleMembership:
    """`change_lease` for a caller, who must outrank the resident."""
    membership = _open_residency(session, property_id, membership_id)
    authorize(
        session, principal, Action.PEOPLE_MANAGE, property_id, subject_id=membership.person_id
    )
    return change_lease(
        session=session,
        master_key=master_key,
        property_id=property_id,
        membership_id=membership_id,
        starts_at=starts_at,
        ends_at=ends_at,
        by=principal.person_id,
        now=now,
    )


def move_out_as(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    membership_id: str,
    at: datetime | None,
    now: datetime,
) -> MoveOut:
    """`move_out` for a caller, who must outrank the resident; no `at` is now."""
    membership = _open_residency(session, property_id, membership_id)
    authorize(
        session, principal, Action.PEOPLE_MANAGE, property_id, subject_id=membership.person_id
    )
    return move_out(
        session=session,
        master_key=master_key,
        property_id=property_id,
        membership_id=membership_id,
        at=now if at is None else at,
        by=principal.person_id,
        now=now,
    )


def move_in(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    unit_id: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    by: str | None,
    now: datetime,
    welcome: AuthConfig | None = None,
) -> RoleMembership:
    """The person becomes a resident of the unit from `starts_at` to an optional `ends_at`.

    They are given the resident role there with these dates and the unit's key(s) with
    resident status over the same window (V2: from now at the earliest), published to the
    unit's locks at once. 409 if they already have an open residency at the unit. With
    `welcome`, they are emailed: an invitation to choose a password, or a notice if they have
    an account.
    """
    check_unit(session, property_id, unit_id)
    if session.get(Person, person_id) is None:
        raise InvalidReference(f"no person {person_id}")
    _check_dates(starts_at, ends_at, now)
    already = session.scalar(
        select(RoleMembership.id).where(
            RoleMembership.person_id == person_id,
            RoleMembership.property_id == property_id,
            RoleMembership.role == Role.RESIDENT,
            RoleMembership.unit_id == unit_id,
            RoleMembership.in_force(),
        )
    )
    if already is not None:
        raise Conflict("this person already lives in this unit")
    membership = RoleMembership(
        person_id=person_id,
        property_id=property_id,
        role=Role.RESIDENT,
        unit_id=unit_id,
        invited_by=by,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    session.add(membership)
    session.flush()
    keys = _unit_keys(session, session.get_one(Unit, unit_id))
    for key in keys:
        new_grant(
            session=session,
            key=key,
            person_id=person_id,
            starts_at=starts_at,
            ends_at=ends_at,
            resident=True,
            created_by=by,
            now=now,
        )
    publish(session, master_key, {door.id for key in keys for door in key.doors}, now)
    _audit(session, membership, "residency.move_in", by, now)
    if welcome is not None:
        links.welcome(
            session=session,
            config=welcome,
            person_id=person_id,
            property_id=property_id,
            inviter_id=by,
            now=now,
        )
    return membership


def change_lease(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    membership_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    by: str | None,
    now: datetime,
) -> RoleMembership:
    """New lease dates; the residency's resident grants follow them. An end already past
    moves the resident out now."""
    membership = _open_residency(session, property_id, membership_id)
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidLease("a residency must end after it starts")
    membership.starts_at = starts_at
    if ends_at is not None and ends_at <= now:
        membership.ends_at = ends_at
        _end(session, master_key, membership, by, now)
        return membership
    membership.ends_at = ends_at
    grants = _residency_grants(session, membership)
    for grant in grants:
        # Resident status never begins before it was given (V2): a grant already running
        # keeps its start, one not yet begun moves with the lease but not before now.
        grant.starts_at = max(starts_at, min(grant.starts_at, now))
        grant.ends_at = ends_at
    publish(session, master_key, _doors_of(grants), now)
    _audit(session, membership, "residency.change_lease", by, now)
    return membership


def move_out(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    membership_id: str,
    at: datetime,
    by: str | None,
    now: datetime,
) -> MoveOut:
    """Move the resident out at `at`: later than `now`, the end is scheduled (the residency's
    grants end then, nothing is revoked yet and the job ends it at `at`); otherwise it ends
    now and everything that depended on it is revoked (see the module docstring)."""
    membership = _open_residency(session, property_id, membership_id)
    assert membership.unit_id is not None
    if at <= now:
        membership.ends_at = at
        return _end(session, master_key, membership, by, now)
    if membership.starts_at is not None and at <= membership.starts_at:
        raise InvalidLease("a move-out must come after the move-in; to cancel it, move out now")
    membership.ends_at = at
    grants = _residency_grants(session, membership)
    for grant in grants:
        grant.ends_at = at if grant.ends_at is None else min(grant.ends_at, at)
    doors = _doors_of(grants)
    publish(session, master_key, doors, now)
    _audit(session, membership, "residency.move_out_scheduled", by, now)
    return MoveOut(
        membership.id,
        membership.person_id,
        membership.unit_id,
        at,
        scheduled=True,
        locks=lock_status(session, doors, now),
    )


def end_due_residencies(*, session: Session, master_key: bytes, now: datetime) -> list[MoveOut]:
    """End every residency whose end has come (the job); one already ended is left alone."""
    due = session.scalars(
        select(RoleMembership)
        .where(
            RoleMembership.role == Role.RESIDENT,
            RoleMembership.in_force(),
            RoleMembership.ends_at <= now,
        )
        .order_by(RoleMembership.ends_at, RoleMembership.id)
        .with_for_update(skip_locked=True)
    ).all()
    return [_end(session, master_key, membership, None, now) for membership in due]


def _end(
    session: Session, master_key: bytes, membership: RoleMembership, by: str | None, now: datetime
) -> MoveOut:
    """End the residency at `now`: revoke what depended on it, publish once, report."""
    assert membership.unit_id is not None
    membership.ended_at = now
    if membership.ends_at is None or membership.ends_at > now:
        membership.ends_at = now
    session.flush()
    person_id, property_id = membership.person_id, membership.property_id
    unit_doors = _unit_door_ids(membership.unit_id)
    grants = _residency_grants(session, membership)
    doorcodes = _live_doorcodes(session, person_id, unit_doors)
    shared = _shared_grants(session, person_id, property_id, unit_doors, now)
    single_day = _single_day_codes(session, person_id, unit_doors, now)
    one_time = _one_time_codes(session, person_id, unit_doors, now, issued_for=False)
    keycards: list[Keycard] = []
    phones: list[MobileKeyRegistration] = []
    if not _keeps_role(session, person_id, property_id):
        here = select(Door.id).where(Door.property_id == property_id)
        grants += _live_grants_at(session, person_id, property_id, now)
        doorcodes += _live_doorcodes(session, person_id, here)
        shared += _shared_grants(session, person_id, property_id, here, now)
        single_day += _single_day_codes(session, person_id, here, now)
        one_time += _one_time_codes(session, person_id, here, now, issued_for=True)
        keycards = list(
            session.scalars(
                select(Keycard).where(
                    Keycard.person_id == person_id,
                    Keycard.property_id == property_id,
                    Keycard.active.is_(True),
                )
            )
        )
        phones = _unused_phones(session, person_id, {grant.id for grant in grants}, now)
    revoked = Revoked(
        grants=_ids(grants),
        shared_grants=_ids(shared),
        doorcodes=_ids(doorcodes),
        keycards=_ids(keycards),
        phones=_ids(phones),
        single_day_codes=_ids(single_day),
        one_time_codes=_ids(one_time),
    )
    credentials: list[Credential] = [
        *_unique(grants),
        *_unique(shared),
        *_unique(doorcodes),
        *keycards,
        *phones,
        *_unique(single_day),
        *_unique(one_time),
    ]
    locks = revoke_all(
        session=session,
        master_key=master_key,
        property_id=property_id,
        credentials=credentials,
        also_publish=session.scalars(unit_doors),
        now=now,
    )
    audit.record(
        session,
        now=now,
        actor_person_id=by,
        action="residency.move_out",
        object_type="residency",
        object_id=membership.id,
        property_id=property_id,
        detail={
            "person_id": person_id,
            "unit_id": membership.unit_id,
            "ends_at": _iso(membership.ends_at),
            "revoked": revoked.counts(),
        },
    )
    return MoveOut(
        membership.id,
        person_id,
        membership.unit_id,
        membership.ends_at,
        scheduled=False,
        revoked=revoked,
        locks=locks,
    )


def _ids(rows: Sequence[Credential]) -> tuple[str, ...]:
    return tuple(sorted({row.id for row in rows}))


def _unique(rows: Sequence[_C]) -> list[_C]:
    return list({row.id: row for row in rows}.values())


def _keeps_role(session: Session, person_id: str, property_id: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    RoleMembership.person_id == person_id,
                    RoleMembership.property_id == property_id,
                    RoleMembership.in_force(),
                )
            )
        )
    )


def _in_force(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (Grant.revoked_at.is_(None), or_(Grant.ends_at.is_(None), Grant.ends_at > now))


def _live_grants_at(
    session: Session, person_id: str, property_id: str, now: datetime
) -> list[Grant]:
    return list(
        session.scalars(
            select(Grant)
            .join(Key, Key.id == Grant.key_id)
            .where(Grant.person_id == person_id, Key.property_id == property_id, *_in_force(now))
        )
    )


def _live_doorcodes(session: Session, person_id: str, doors: Select[str]) -> list[Doorcode]:
    return list(
        session.scalars(
            select(Doorcode).where(
                Doorcode.person_id == person_id,
                Doorcode.revoked_at.is_(None),
                Doorcode.door_id.in_(doors),
            )
        )
    )


def _shared_grants(
    session: Session, person_id: str, property_id: str, doors: Select[str], now: datetime
) -> list[Grant]:
    """Guest, service-provider and courier grants the person made whose key opens a door."""
    opening = select(key_doors.c.key_id).where(key_doors.c.door_id.in_(doors))
    return list(
        session.scalars(
            select(Grant)
            .join(Key, Key.id == Grant.key_id)
            .where(
                Grant.created_by == person_id,
                Grant.person_id != person_id,
                Grant.kind.in_(SHARED_KINDS),
                Key.property_id == property_id,
                Key.id.in_(opening),
                *_in_force(now),
            )
        )
    )


def _single_day_codes(
    session: Session, person_id: str, doors: Select[str], now: datetime
) -> list[SingleDayCode]:
    """The person's single-day codes at these doors for yesterday on (a lock may still take
    yesterday's code in its grace window)."""
    since = (now - timedelta(days=2)).date()
    return list(
        session.scalars(
            select(SingleDayCode).where(
                SingleDayCode.created_by == person_id,
                SingleDayCode.revoked_at.is_(None),
                SingleDayCode.door_id.in_(doors),
                SingleDayCode.local_date >= since,
            )
        )
    )


def _one_time_codes(
    session: Session, person_id: str, doors: Select[str], now: datetime, *, issued_for: bool
) -> list[OneTimeCode]:
    """One-time codes at these doors the person made (or, with `issued_for`, was sent), still
    usable at `now`."""
    whose = (
        or_(OneTimeCode.created_by == person_id, OneTimeCode.issued_for == person_id)
        if issued_for
        else OneTimeCode.created_by == person_id
    )
    return [
        code
        for code in session.scalars(
            select(OneTimeCode).where(
                whose, OneTimeCode.revoked_at.is_(None), OneTimeCode.door_id.in_(doors)
            )
        )
        if code.first_used_at is None
        or code.first_used_at + timedelta(minutes=code.valid_minutes) > now
    ]


def _unused_phones(
    session: Session, person_id: str, revoking: set[str], now: datetime
) -> list[MobileKeyRegistration]:
    """The person's live phones, if after this move-out they serve no role and no grant
    anywhere (in any portfolio); none otherwise."""
    other_role = session.scalar(
        select(exists().where(RoleMembership.person_id == person_id, RoleMembership.in_force()))
    )
    other_grant = session.scalar(
        select(
            exists().where(
                Grant.person_id == person_id, Grant.id.not_in(sorted(revoking)), *_in_force(now)
            )
        )
    )
    if other_role or other_grant:
        return []
    return list(
        session.scalars(
            select(MobileKeyRegistration).where(
                MobileKeyRegistration.person_id == person_id,
                MobileKeyRegistration.revoked_at.is_(None),
            )
        )
    )
