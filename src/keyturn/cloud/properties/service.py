"""Secrets and structure of properties, units and doors: sealing, creation and settings.

Each secret is sealed under the master key with its row's id as context, so a sealed value
copied to another row fails to open. The structure functions (properties, units, doors) are
here too, so every writer gets the same checks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.db import new_id
from keyturn.cloud.errors import InvalidReference, Refusal
from keyturn.cloud.models import (
    Door,
    InvalidPropertySetting,
    Portfolio,
    Property,
    RoleMembership,
    Unit,
)
from keyturn.cloud.properties.schemas import DoorUpdate, PropertyCreate, PropertyUpdate
from keyturn.crypto.codes import door_secret
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.sealed import seal, unseal
from keyturn.rules.errors import InvalidLockoutPolicy
from keyturn.rules.lockout import LockoutPolicy
from keyturn.rules.types import DoorKind, Role

T = TypeVar("T")


def _authority_context(property_id: str) -> bytes:
    return f"authority:{property_id}".encode()


def _door_context(door_id: str) -> bytes:
    return f"door-secret:{door_id}".encode()


def give_authority(prop: Property, master_key: bytes) -> SigningKeyPair:
    """Generate the property's authority key pair and store it (the property needs an id)."""
    authority = SigningKeyPair.generate()
    prop.authority_public_key = authority.public_bytes()
    prop.authority_private_key_sealed = seal(
        master_key, authority.private_bytes(), _authority_context(prop.id)
    )
    return authority


_SEALED_AUTHORITY = select(Property.authority_private_key_sealed).where(
    Property.id == bindparam("property")
)


def authority_of(session: Session, master_key: bytes, property_id: str) -> SigningKeyPair:
    """The property's authority key pair: its sealed column read, then opened (once per value)."""
    sealed = session.execute(_SEALED_AUTHORITY, {"property": property_id}).scalar_one_or_none()
    if sealed is None:
        raise LookupError(f"no property {property_id}")
    return open_authority(master_key, property_id, sealed)


@functools.lru_cache(maxsize=256)
def open_authority(master_key: bytes, property_id: str, sealed: bytes) -> SigningKeyPair:
    """The authority key pair from its sealed column; each value is opened once per process,
    as unsealing costs more than reading it.

    The key is the sealed value itself, so a new authority (or master key) is a new entry.
    """
    private = unseal(master_key, sealed, _authority_context(property_id))
    return SigningKeyPair.from_private_bytes(private)


def give_door_secret(door: Door, master_key: bytes) -> None:
    """Generate the door's secret and store it sealed (the door needs an id)."""
    door.secret_sealed = seal(master_key, door_secret(), _door_context(door.id))


def door_secret_of(door: Door, master_key: bytes) -> bytes:
    return unseal(master_key, door.secret_sealed, _door_context(door.id))


class SettingsFixedByLocks(Refusal):
    """Time zone, code length and lockout policy travel to a lock only when it is provisioned."""

    status = 409
    kind = "settings-fixed-by-locks"
    title = "Locks are bound here; this setting is fixed in their configuration"


LOCK_CONFIG_FIELDS = frozenset(
    {
        "time_zone",
        "doorcode_length",
        "lockout_max_failures",
        "lockout_window_s",
        "lockout_first_cooldown_s",
        "lockout_max_cooldown_s",
    }
)


def create_portfolio(*, session: Session, name: str) -> Portfolio:
    """A new portfolio, the owner of properties and of the profiles people have with them."""
    portfolio = Portfolio(id=new_id(), name=name)
    session.add(portfolio)
    session.flush()
    return portfolio


def properties_of(*, session: Session, person_id: str) -> Select[Property]:
    """The properties where the person has a role, portfolio roles included."""
    return select(Property).where(Property.id.in_(visible_property_ids(session, person_id)))


def create_property(
    *, session: Session, master_key: bytes, portfolio_id: str, settings: PropertyCreate
) -> Property:
    """A new property of the portfolio with its own authority key pair, stored and flushed."""
    fields = settings.model_dump(exclude={"lockout"})
    if settings.lockout is not None:
        fields.update(settings.lockout.columns())
    prop = Property(id=new_id(), portfolio_id=portfolio_id, **fields)
    give_authority(prop, master_key)
    _check_lockout(prop)
    session.add(prop)
    session.flush()
    return prop


def update_property(*, session: Session, property_id: str, changes: PropertyUpdate) -> Property:
    """Apply setting changes (fields left out stay); those a bound lock holds in its
    configuration are refused (409).

    A lock receives time zone, code length and lockout policy once, at provisioning, so
    changing them under bound locks would make cloud and locks disagree.
    """
    prop = session.get_one(Property, property_id)
    return _apply_settings(session, prop, changes.columns())


def _apply_settings(session: Session, prop: Property, changes: Mapping[str, Any]) -> Property:
    fixed = sorted(
        name
        for name, value in changes.items()
        if name in LOCK_CONFIG_FIELDS and value != getattr(prop, name)
    )
    if fixed and _has_live_lock(session, prop.id):
        raise SettingsFixedByLocks(
            f"{', '.join(fixed)} cannot change while locks are bound; retire them first"
        )
    for name, value in changes.items():
        setattr(prop, name, value)
    _check_lockout(prop)
    session.flush()
    return prop


def _check_lockout(prop: Property) -> None:
    try:
        LockoutPolicy(
            max_failures=prop.lockout_max_failures or 5,
            window=timedelta(seconds=prop.lockout_window_s or 600),
            first_cooldown=timedelta(seconds=prop.lockout_first_cooldown_s or 60),
            max_cooldown=timedelta(seconds=prop.lockout_max_cooldown_s or 3600),
        )
    except InvalidLockoutPolicy as exc:
        raise InvalidPropertySetting(str(exc)) from None


def _has_live_lock(session: Session, property_id: str) -> bool:
    from keyturn.cloud.models import Device

    found = session.execute(
        select(Device.id).where(
            Device.property_id == property_id,
            Device.door_id.is_not(None),
            Device.retired_at.is_(None),
        )
    ).first()
    return found is not None


def visible_property_ids(session: Session, person_id: str) -> Select[str]:
    """Ids of the properties where the person has a role, portfolio roles included."""
    own = select(RoleMembership.property_id).where(
        RoleMembership.person_id == person_id, RoleMembership.in_force()
    )
    portfolios = (
        select(Property.portfolio_id)
        .join(RoleMembership, RoleMembership.property_id == Property.id)
        .where(
            RoleMembership.person_id == person_id,
            RoleMembership.role == Role.PORTFOLIO_MANAGER,
        )
    )
    return select(Property.id).where(
        or_(Property.id.in_(own), Property.portfolio_id.in_(portfolios))
    )


def first_property_of_portfolio(session: Session, portfolio_id: str | None) -> str | None:
    """A property of the portfolio, where a portfolio manager's standing can be checked."""
    if portfolio_id is None:
        return None
    return session.scalar(
        select(Property.id).where(Property.portfolio_id == portfolio_id).order_by(Property.id)
    )


def property_by_reference(session: Session, reference: str) -> Property:
    """The property with this id, or else the one property with exactly this name (for a
    command line, where people name things); NotFound says which of the two went wrong."""
    found = session.scalars(
        select(Property).where(or_(Property.id == reference, Property.name == reference))
    ).all()
    by_id = [prop for prop in found if prop.id == reference]
    if by_id:
        return by_id[0]
    if not found:
        raise NotFound(f"no property named {reference!r}: give its id or its exact name")
    if len(found) > 1:
        raise NotFound(f"{len(found)} properties are named {reference!r}: give the id instead")
    return found[0]


def in_property(session: Session, model: type[T], object_id: str, property_id: str) -> T:
    """The row of `model` (a table with a property_id) with this id at this property, else 404."""
    row = session.get(model, object_id)
    if row is None or getattr(row, "property_id", None) != property_id:
        raise NotFound()
    return row


def units_of(*, property_id: str) -> Select[Unit]:
    return select(Unit).where(Unit.property_id == property_id)


def create_unit(*, session: Session, property_id: str, label: str) -> Unit:
    unit = Unit(property_id=property_id, label=label)
    session.add(unit)
    session.flush()
    return unit


def doors_of(*, property_id: str) -> Select[Door]:
    return select(Door).where(Door.property_id == property_id)


def create_door(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    name: str,
    kind: DoorKind,
    unit_id: str | None,
) -> Door:
    """A new door with its own sealed secret; a unit must belong to the same property."""
    check_unit(session, property_id, unit_id)
    door = Door(id=new_id(), property_id=property_id, name=name, kind=kind, unit_id=unit_id)
    give_door_secret(door, master_key)
    session.add(door)
    session.flush()
    return door


def update_door(*, session: Session, property_id: str, door_id: str, changes: DoorUpdate) -> Door:
    """Rename, re-kind or re-unit a door (fields left out stay; a null unit_id clears it);
    the kind is fixed once a lock is bound (409)."""
    door = in_property(session, Door, door_id, property_id)
    given = {
        name: value
        for name, value in changes.model_dump(exclude_unset=True).items()
        if value is not None or name == "unit_id"
    }
    return _apply_door_changes(session, door, given)


def _apply_door_changes(session: Session, door: Door, changes: Mapping[str, Any]) -> Door:
    if "unit_id" in changes:
        check_unit(session, door.property_id, changes["unit_id"])
    for name, value in changes.items():
        setattr(door, name, value)
    session.flush()
    return door


def check_unit(session: Session, property_id: str, unit_id: str | None) -> None:
    """Refuse (422 unknown-reference) a unit id that is not a unit of this property."""
    if unit_id is None:
        return
    unit = session.get(Unit, unit_id)
    if unit is None or unit.property_id != property_id:
        raise InvalidReference(f"no unit {unit_id} at this property")
