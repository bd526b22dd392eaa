"""Keys and grants as a person reads them: door and people names, holders, and how far the
key's last change has reached the locks.

Read models for the manager portal; they never change rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from keyturn.cloud.access.doors import key_door_ids
from keyturn.cloud.access.keys.schemas import Window
from keyturn.cloud.access.keys.service import keys_at
from keyturn.cloud.access.rollout import LockStatus, lock_status
from keyturn.cloud.auth.permissions import Principal
from keyturn.cloud.models import Door, Grant, Key, Person
from keyturn.cloud.people.profiles import known_name, portfolio_of
from keyturn.cloud.people.service import people_at
from keyturn.cloud.properties.service import doors_of, in_property


@dataclass(frozen=True, slots=True)
class Named:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class KeyShown:
    """A key with its doors by name, its weekly windows and its holders."""

    id: str
    name: str
    doors: list[Named]
    windows: list[Window]
    may_share: bool
    provides_doorcodes: bool
    holders: int
    last_change_at: datetime
    locks: list[LockStatus]


@dataclass(frozen=True, slots=True)
class GrantShown:
    id: str
    person_name: str
    resident: bool
    starts_at: datetime
    ends_at: datetime | None
    given_by: str | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeyPage:
    """One key, everyone it was granted to, and the property's people to give it to."""

    key: KeyShown
    grants: list[GrantShown]
    people: list[Named]


@dataclass(frozen=True, slots=True)
class KeyForm:
    """What a key's form offers: the property's doors, and the key when it is changed."""

    doors: list[Named]
    key: KeyShown | None


def _windows(key: Key) -> list[Window]:
    return [Window(**window) for window in (key.schedule_json or {}).get("windows", [])]


def _last_change(session: Session, key: Key) -> datetime:
    """The latest instant the key's grants were given or revoked, else when it was made."""
    given, revoked = session.execute(
        select(func.max(Grant.created_at), func.max(Grant.revoked_at)).where(Grant.key_id == key.id)
    ).one()
    return max(moment for moment in (key.created_at, given, revoked) if moment is not None)


def _holders(session: Session, key_ids: Sequence[str], now: datetime) -> dict[str, int]:
    rows = session.execute(
        select(Grant.key_id, func.count(func.distinct(Grant.person_id)))
        .where(
            Grant.key_id.in_(sorted(key_ids)),
            Grant.revoked_at.is_(None),
            or_(Grant.ends_at.is_(None), Grant.ends_at > now),
        )
        .group_by(Grant.key_id)
    )
    return {key_id: int(count) for key_id, count in rows}


def _shown(session: Session, key: Key, holders: int) -> KeyShown:
    since = _last_change(session, key)
    return KeyShown(
        id=key.id,
        name=key.name,
        doors=sorted((Named(door.id, door.name) for door in key.doors), key=lambda d: d.name),
        windows=_windows(key),
        may_share=key.may_share,
        provides_doorcodes=key.provides_doorcodes,
        holders=holders,
        last_change_at=since,
        locks=lock_status(session, key_door_ids(key), since),
    )


def keys_listed(
    *, session: Session, principal: Principal, property_id: str, now: datetime
) -> list[KeyShown]:
    """The keys the caller may read here (as the API lists them), by name."""
    keys = list(
        session.scalars(
            keys_at(session=session, principal=principal, property_id=property_id)
            .options(selectinload(Key.doors))
            .order_by(Key.name)
        )
    )
    holders = _holders(session, [key.id for key in keys], now)
    return [_shown(session, key, holders.get(key.id, 0)) for key in keys]


def key_form(*, session: Session, property_id: str, key_id: str | None = None) -> KeyForm:
    """The property's doors by name, and the key to change if one is named."""
    doors = [
        Named(door.id, door.name)
        for door in session.scalars(doors_of(property_id=property_id).order_by(Door.name))
    ]
    key = in_property(session, Key, key_id, property_id) if key_id is not None else None
    return KeyForm(doors=doors, key=_shown(session, key, 0) if key is not None else None)


def key_page(*, session: Session, property_id: str, key_id: str, now: datetime) -> KeyPage:
    """The key, its grants (revoked ones too) with names, and the people who could get it."""
    key = in_property(session, Key, key_id, property_id)
    portfolio_id = portfolio_of(session, property_id)
    rows = session.execute(
        select(Grant, known_name(Person.id, portfolio_id))
        .join(Person, Person.id == Grant.person_id)
        .where(Grant.key_id == key.id)
        .order_by(Grant.revoked_at.is_not(None), Grant.starts_at, Grant.id)
    ).all()
    givers = _names(session, {grant.created_by for grant, _name in rows}, portfolio_id)
    grants = [
        GrantShown(
            id=grant.id,
            person_name=name,
            resident=grant.resident,
            starts_at=grant.starts_at,
            ends_at=grant.ends_at,
            given_by=givers.get(grant.created_by) if grant.created_by is not None else None,
            revoked_at=grant.revoked_at,
        )
        for grant, name in rows
    ]
    name = known_name(Person.id, portfolio_id)
    people = [
        Named(person_id, person_name)
        for person_id, person_name in session.execute(
            people_at(property_id).with_only_columns(Person.id, name).order_by(name, Person.id)
        )
    ]
    holders = _holders(session, [key.id], now).get(key.id, 0)
    return KeyPage(key=_shown(session, key, holders), grants=grants, people=people)


def _names(session: Session, person_ids: set[str | None], portfolio_id: str) -> dict[str, str]:
    wanted = sorted(person_id for person_id in person_ids if person_id is not None)
    if not wanted:
        return {}
    rows = session.execute(
        select(Person.id, known_name(Person.id, portfolio_id)).where(Person.id.in_(wanted))
    )
    return {person_id: name for person_id, name in rows}
