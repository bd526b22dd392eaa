"""Appoint a property manager, set their whole permission set, remove them: the one place.

A manager's powers are a key level (full, limited, specific keys, none) plus device management
and security viewer; setting them replaces every RolePermission and ManagedKey row the person
has at the property, and every change is audited with the levels and key names before and
after. `principal=None` is the installation's operator (the CLI), whom no role limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth.errors import Conflict, Forbidden, NotFound
from keyturn.cloud.auth.permissions import Action, Principal, authorize, standing_at
from keyturn.cloud.errors import InvalidReference, Refusal
from keyturn.cloud.models import Key, ManagedKey, Person, Property, RoleMembership, RolePermission
from keyturn.cloud.people.profiles import portfolio_of, read_profile_at
from keyturn.cloud.privacy import audit
from keyturn.rules.types import Permission, Role

OBJECT_TYPE = "manager"
NOT_A_MANAGER = "this person is not a property manager here"


class KeyLevel(StrEnum):
    """How far a manager's power over keys reaches."""

    FULL = "full"  # create, edit, delete and grant every key
    LIMITED = "limited"  # grant and share every key, edit none
    SPECIFIC = "specific"  # grant only the keys assigned to them
    NONE = "none"


# Highest first: a person holding several key permissions (set by hand) reads as the highest.
_KEY_PERMISSIONS = {
    KeyLevel.FULL: Permission.KEYS_FULL,
    KeyLevel.LIMITED: Permission.KEYS_LIMITED,
    KeyLevel.SPECIFIC: Permission.KEYS_SPECIFIC,
}


class OwnManagerPowers(Forbidden):
    """Nobody appoints, changes or removes themself as a manager."""

    kind = "own-manager-powers"
    title = "Nobody changes their own manager permissions"


class PortfolioManagerPowers(Conflict):
    """A portfolio manager holds every power by role; there is no permission set to change."""

    kind = "portfolio-manager"
    title = "A portfolio manager's powers come with the role"


class InvalidPowers(Refusal):
    """A permission set that contradicts itself (managed keys without specific keys)."""

    status = 422
    kind = "invalid-manager-permissions"
    title = "These manager permissions do not fit together"


@dataclass(frozen=True)
class Powers:
    """A property manager's whole permission set; `key_ids` only with the specific level."""

    keys: KeyLevel = KeyLevel.NONE
    key_ids: frozenset[str] = frozenset()
    device_management: bool = False
    security_viewer: bool = False

    @property
    def permissions(self) -> frozenset[Permission]:
        held = {_KEY_PERMISSIONS[self.keys]} if self.keys in _KEY_PERMISSIONS else set()
        if self.device_management:
            held.add(Permission.DEVICE_MANAGEMENT)
        if self.security_viewer:
            held.add(Permission.SECURITY_VIEWER)
        return frozenset(held)

    @classmethod
    def of(cls, permissions: Iterable[Permission], key_ids: Iterable[str] = ()) -> Powers:
        """The powers these permission rows (and managed keys) amount to."""
        held = set(permissions)
        level = next((lvl for lvl, p in _KEY_PERMISSIONS.items() if p in held), KeyLevel.NONE)
        return cls(
            keys=level,
            key_ids=frozenset(key_ids) if level is KeyLevel.SPECIFIC else frozenset(),
            device_management=Permission.DEVICE_MANAGEMENT in held,
            security_viewer=Permission.SECURITY_VIEWER in held,
        )


# What a portfolio manager may do by role, as a permission set would say it.
PORTFOLIO_POWERS = Powers(keys=KeyLevel.FULL, device_management=True)


@dataclass(frozen=True)
class ManagerEntry:
    """One manager of a property: who, which role, their powers here and their appointment."""

    person_id: str
    display_name: str
    email: str | None
    role: Role
    powers: Powers
    managed_keys: list[tuple[str, str]]  # (id, name) of the specific keys, by name
    appointed_by: str | None  # None: the operator, or the first manager of the portfolio
    appointed_by_name: str | None
    appointed_at: datetime


@dataclass
class _Found:
    """A manager's rows while the list is put together."""

    role: Role
    membership: RoleMembership
    permissions: set[Permission] = field(default_factory=set)
    key_ids: set[str] = field(default_factory=set)


def check_appointer(
    session: Session, principal: Principal, property_id: str, subject_id: str | None
) -> None:
    """The caller may appoint, change or remove managers here, and the person is not them.

    `subject_id` None is a person not yet known (an invitation); otherwise they must have a
    role here (404) and rank no higher than the caller.
    """
    authorize(session, principal, Action.MANAGERS_MANAGE, property_id, subject_id=subject_id)
    if subject_id == principal.person_id:
        raise OwnManagerPowers("ask another portfolio manager to change your manager access")


def list_managers(*, session: Session, property_id: str) -> list[ManagerEntry]:
    """Every manager of the property, by person id: its property managers and the portfolio's
    portfolio managers."""
    portfolio_id = portfolio_of(session, property_id)
    found: dict[str, _Found] = {}
    portfolio_rows = session.scalars(
        select(RoleMembership)
        .join(Property, Property.id == RoleMembership.property_id)
        .where(
            Property.portfolio_id == portfolio_id,
            RoleMembership.role == Role.PORTFOLIO_MANAGER,
        )
        .order_by(RoleMembership.created_at, RoleMembership.id)
    )
    for row in portfolio_rows:
        found.setdefault(row.person_id, _Found(Role.PORTFOLIO_MANAGER, row))
    property_rows = session.scalars(
        select(RoleMembership).where(
            RoleMembership.property_id == property_id,
            RoleMembership.role == Role.PROPERTY_MANAGER,
        )
    )
    for row in property_rows:
        found.setdefault(row.person_id, _Found(Role.PROPERTY_MANAGER, row))
    for person_id, permission in session.execute(
        select(RolePermission.person_id, RolePermission.permission).where(
            RolePermission.property_id == property_id
        )
    ):
        if person_id in found:
            found[person_id].permissions.add(Permission(permission))
    managed = session.execute(
        select(ManagedKey.person_id, ManagedKey.key_id)
        .join(Key, Key.id == ManagedKey.key_id)
        .where(Key.property_id == property_id)
    )
    for person_id, key_id in managed:
        if person_id in found:
            found[person_id].key_ids.add(key_id)
    return [
        _entry(session, property_id, person_id, found[person_id]) for person_id in sorted(found)
    ]


def manager_at(*, session: Session, property_id: str, person_id: str) -> ManagerEntry:
    """One manager of the property; 404 for anyone else."""
    for entry in list_managers(session=session, property_id=property_id):
        if entry.person_id == person_id:
            return entry
    raise NotFound(NOT_A_MANAGER)


def set_manager(
    *,
    session: Session,
    principal: Principal | None,
    property_id: str,
    person_id: str,
    powers: Powers,
    now: datetime,
) -> ManagerEntry:
    """Make a person of this property a property manager with exactly these powers.

    Someone with a role here but no manager role becomes property manager; a manager's
    permission set is replaced as a whole. The same powers again change nothing and write no
    audit record. A portfolio manager's powers come with their role (409).
    """
    if principal is not None:
        check_appointer(session, principal, property_id, person_id)
    roles = _roles_here(session, property_id, person_id)
    if Role.PORTFOLIO_MANAGER in roles:
        raise PortfolioManagerPowers(
            "a portfolio manager already holds every manager power; nothing to set"
        )
    appointing = Role.PROPERTY_MANAGER not in roles
    before = None if appointing else powers_of(session, property_id, person_id)
    names = _key_names(session, property_id, _checked(powers).key_ids)
    if before != powers:
        actor = principal.person_id if principal is not None else None
        if appointing:
            session.add(
                RoleMembership(
                    person_id=person_id,
                    property_id=property_id,
                    role=Role.PROPERTY_MANAGER,
                    invited_by=actor,
                    created_at=now,
                )
            )
        write_powers(
            session=session, property_id=property_id, person_id=person_id, powers=powers, by=actor
        )
        audit.record(
            session,
            now=now,
            actor_person_id=actor,
            action="manager.appointed" if appointing else "manager.changed",
            object_type=OBJECT_TYPE,
            object_id=person_id,
            property_id=property_id,
            detail={
                "person_id": person_id,
                "role": Role.PROPERTY_MANAGER.value,
                "before": None if before is None else _described(session, property_id, before),
                "after": _described_with(powers, names),
            },
        )
        session.flush()
    return manager_at(session=session, property_id=property_id, person_id=person_id)


def remove_manager(
    *,
    session: Session,
    principal: Principal | None,
    property_id: str,
    person_id: str,
    now: datetime,
) -> None:
    """Take the property manager role and every permission and managed key here (D4: what lets
    a former manager's deletion request proceed); audited with what they held."""
    if principal is not None:
        check_appointer(session, principal, property_id, person_id)
    roles = _roles_here(session, property_id, person_id)
    if Role.PORTFOLIO_MANAGER in roles:
        raise PortfolioManagerPowers(
            "a portfolio manager's role is removed as a role, "
            "with DELETE /properties/{property_id}/roles/{membership_id}"
        )
    if Role.PROPERTY_MANAGER not in roles:
        raise NotFound(NOT_A_MANAGER)
    before = powers_of(session, property_id, person_id)
    session.execute(
        delete(RoleMembership).where(
            RoleMembership.person_id == person_id,
            RoleMembership.property_id == property_id,
            RoleMembership.role == Role.PROPERTY_MANAGER,
        )
    )
    clear_powers(session=session, property_id=property_id, person_id=person_id)
    audit.record(
        session,
        now=now,
        actor_person_id=principal.person_id if principal is not None else None,
        action="manager.removed",
        object_type=OBJECT_TYPE,
        object_id=person_id,
        property_id=property_id,
        detail={
            "person_id": person_id,
            "role": Role.PROPERTY_MANAGER.value,
            "before": _described(session, property_id, before),
            "after": None,
        },
    )
    session.flush()


def audit_role(
    *,
    session: Session,
    actor_id: str | None,
    membership: RoleMembership,
    given: bool,
    now: datetime,
) -> None:
    """Audit a manager role given or taken as a role (an invitation, the role routes); a
    property manager appointed that way starts with no permissions."""
    powers = Powers() if Role(membership.role) is Role.PROPERTY_MANAGER else PORTFOLIO_POWERS
    described = _described_with(powers, {})
    audit.record(
        session,
        now=now,
        actor_person_id=actor_id,
        action="manager.appointed" if given else "manager.removed",
        object_type=OBJECT_TYPE,
        object_id=membership.person_id,
        property_id=membership.property_id,
        detail={
            "person_id": membership.person_id,
            "role": Role(membership.role).value,
            "before": None if given else described,
            "after": described if given else None,
        },
    )


def powers_of(session: Session, property_id: str, person_id: str) -> Powers:
    """The permission set the person holds at the property (whatever their roles)."""
    permissions = session.scalars(
        select(RolePermission.permission).where(
            RolePermission.person_id == person_id, RolePermission.property_id == property_id
        )
    )
    key_ids = session.scalars(
        select(ManagedKey.key_id)
        .join(Key, Key.id == ManagedKey.key_id)
        .where(ManagedKey.person_id == person_id, Key.property_id == property_id)
    )
    return Powers.of((Permission(p) for p in permissions), key_ids)


def write_powers(
    *,
    session: Session,
    property_id: str,
    person_id: str,
    powers: Powers,
    by: str | None,
) -> None:
    """Replace the person's permissions and managed keys here with `powers`, checking only
    the powers themselves (keys of this property, key ids exactly for specific keys).

    Checks nothing about who sets them (`set_manager` does): for the demo building, the
    simulator and the test factories, which place managers directly.
    """
    _key_names(session, property_id, _checked(powers).key_ids)
    clear_powers(session=session, property_id=property_id, person_id=person_id)
    session.add_all(
        RolePermission(
            person_id=person_id, property_id=property_id, permission=permission, granted_by=by
        )
        for permission in sorted(powers.permissions)
    )
    session.add_all(
        ManagedKey(person_id=person_id, key_id=key_id) for key_id in sorted(powers.key_ids)
    )
    session.flush()


def clear_powers(*, session: Session, property_id: str, person_id: str) -> None:
    """Drop every permission and managed key the person holds at the property."""
    session.execute(
        delete(RolePermission).where(
            RolePermission.person_id == person_id, RolePermission.property_id == property_id
        )
    )
    keys_here = select(Key.id).where(Key.property_id == property_id)
    session.execute(
        delete(ManagedKey).where(
            ManagedKey.person_id == person_id, ManagedKey.key_id.in_(keys_here)
        )
    )


# -- lookups by name, for the operator's command ------------------------------------------------


def find_member(*, session: Session, property_id: str, email: str) -> Person:
    """The person with this email who has a role at the property."""
    person = session.scalars(select(Person).where(Person.email == email.strip().lower())).first()
    if person is None or standing_at(session, person.id, property_id) is None:
        raise InvalidReference(f"nobody with the email {email!r} has a role at this property")
    return person


def key_ids_named(*, session: Session, property_id: str, names: Sequence[str]) -> frozenset[str]:
    """The ids of this property's keys with these names (a key's name is unique here)."""
    found = dict(
        session.execute(
            select(Key.name, Key.id).where(Key.property_id == property_id, Key.name.in_(names))
        ).all()
    )
    missing = [name for name in names if name not in found]
    if missing:
        raise InvalidReference(f"no key named {missing[0]!r} at this property")
    return frozenset(found[name] for name in names)


# -- helpers ------------------------------------------------------------------------------------


def _roles_here(session: Session, property_id: str, person_id: str) -> frozenset[Role]:
    standing = standing_at(session, person_id, property_id)
    if standing is None:
        raise NotFound("this person has no role at this property: invite them first")
    return standing.roles


def _checked(powers: Powers) -> Powers:
    if (powers.keys is KeyLevel.SPECIFIC) != bool(powers.key_ids):
        raise InvalidPowers(
            "the keys a manager manages (key_ids, or --key) go with the level 'specific' "
            "only: name at least one with it, and none with any other level"
        )
    return powers


def _key_names(session: Session, property_id: str, key_ids: Iterable[str]) -> dict[str, str]:
    wanted = set(key_ids)
    if not wanted:
        return {}
    names = dict(
        session.execute(
            select(Key.id, Key.name).where(Key.id.in_(wanted), Key.property_id == property_id)
        ).all()
    )
    unknown = sorted(wanted - set(names))
    if unknown:
        raise InvalidReference(f"no key {unknown[0]} at this property")
    return names


def _described(session: Session, property_id: str, powers: Powers) -> dict[str, Any]:
    return _described_with(powers, _key_names(session, property_id, powers.key_ids))


def _described_with(powers: Powers, names: dict[str, str]) -> dict[str, Any]:
    """The powers as the audit record keeps them: levels and key names, nothing secret."""
    return {
        "keys": powers.keys.value,
        "key_names": sorted(names[key_id] for key_id in powers.key_ids),
        "device_management": powers.device_management,
        "security_viewer": powers.security_viewer,
    }


def _entry(session: Session, property_id: str, person_id: str, found: _Found) -> ManagerEntry:
    person = session.get_one(Person, person_id)
    if found.role is Role.PORTFOLIO_MANAGER:
        powers = PORTFOLIO_POWERS
    else:
        powers = Powers.of(found.permissions, found.key_ids)
    names = _key_names(session, property_id, powers.key_ids)
    appointer_id = found.membership.invited_by
    appointer = session.get(Person, appointer_id) if appointer_id is not None else None
    return ManagerEntry(
        person_id=person_id,
        display_name=read_profile_at(session, person=person, property_id=property_id).display_name,
        email=person.email,
        role=found.role,
        powers=powers,
        managed_keys=sorted(names.items(), key=lambda item: (item[1], item[0])),
        appointed_by=appointer_id,
        appointed_by_name=(
            read_profile_at(session, person=appointer, property_id=property_id).display_name
            if appointer is not None
            else None
        ),
        appointed_at=found.membership.created_at,
    )
