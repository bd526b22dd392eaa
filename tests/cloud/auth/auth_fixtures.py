"""Helpers for the auth tests: a movable clock, a small building, people in every role.

Accounts get tokens straight from the service (no argon2 work) unless a test needs a
password, so the route walker stays fast.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth import service
from keyturn.cloud.auth.passwords import hash_password
from keyturn.cloud.auth.permissions import ALL_SCOPES, Scope
from keyturn.cloud.db import Base
from keyturn.cloud.models import (
    Account,
    Key,
    ManagedKey,
    Person,
    Portfolio,
    Property,
    RoleMembership,
    RolePermission,
    Unit,
)
from keyturn.rules.types import Permission, Role

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MASTER_KEY = bytes(range(32))
MASTER_KEY_TEXT = base64.urlsafe_b64encode(MASTER_KEY).decode()
PASSWORD = "correct horse battery staple"


@dataclass
class Clock:
    """The app's clock in tests: starts at T0 and moves only when told."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Building:
    portfolio_id: str
    property_id: str
    unit_id: str
    managed_key_id: str
    other_key_id: str
    other_property_id: str
    other_key_in_other_property_id: str
    people: dict[str, str] = field(default_factory=dict)


# Every standing the walkers test: a role, plus a permission for property managers.
PERSONAS: dict[str, tuple[Role | None, Permission | None]] = {
    "portfolio_manager": (Role.PORTFOLIO_MANAGER, None),
    "property_manager": (Role.PROPERTY_MANAGER, None),
    "pm_keys_full": (Role.PROPERTY_MANAGER, Permission.KEYS_FULL),
    "pm_keys_limited": (Role.PROPERTY_MANAGER, Permission.KEYS_LIMITED),
    "pm_keys_specific": (Role.PROPERTY_MANAGER, Permission.KEYS_SPECIFIC),
    "pm_device_management": (Role.PROPERTY_MANAGER, Permission.DEVICE_MANAGEMENT),
    "pm_security_viewer": (Role.PROPERTY_MANAGER, Permission.SECURITY_VIEWER),
    "staff": (Role.STAFF, None),
    "resident": (Role.RESIDENT, None),
    "guest": (Role.GUEST, None),
    "service_provider": (Role.SERVICE_PROVIDER, None),
    "courier": (Role.COURIER, None),
    "outsider": (None, None),  # an account with no role at the property
}


def make_property(session: Session, portfolio: Portfolio, name: str) -> Property:
    prop = Property(
        portfolio=portfolio,
        name=name,
        time_zone="America/New_York",
        authority_public_key=b"\x01" * 32,
        authority_private_key_sealed=b"\x02" * 60,
    )
    session.add(prop)
    session.flush()
    return prop


def make_person(
    session: Session, email: str, *, password: str | None = None, name: str = "Test Person"
) -> Person:
    person = Person(display_name=name, email=email)
    session.add(person)
    session.flush()
    session.add(
        Account(person_id=person.id, password_hash=hash_password(password) if password else None)
    )
    session.flush()
    return person


def account_id(session: Session, person_id: str) -> str:
    return session.execute(select(Account.id).where(Account.person_id == person_id)).scalar_one()


def give_role(
    session: Session,
    person_id: str,
    property_id: str,
    role: Role,
    *,
    unit_id: str | None = None,
    permission: Permission | None = None,
) -> None:
    session.add(
        RoleMembership(person_id=person_id, property_id=property_id, role=role, unit_id=unit_id)
    )
    if permission is not None:
        session.add(
            RolePermission(person_id=person_id, property_id=property_id, permission=permission)
        )
    session.flush()


def make_building(session: Session) -> Building:
    """Two properties of one portfolio; one person per persona at the first."""
    portfolio = Portfolio(name="Elm Holdings")
    prop = make_property(session, portfolio, "12 Elm St")
    other = make_property(session, Portfolio(name="Oak Holdings"), "3 Oak Ave")
    unit = Unit(property_id=prop.id, label="4B")
    managed = Key(property_id=prop.id, name="Gym")
    unmanaged = Key(property_id=prop.id, name="Roof")
    foreign = Key(property_id=other.id, name="Oak lobby")
    session.add_all([unit, managed, unmanaged, foreign])
    session.flush()
    building = Building(
        portfolio_id=portfolio.id,
        property_id=prop.id,
        unit_id=unit.id,
        managed_key_id=managed.id,
        other_key_id=unmanaged.id,
        other_property_id=other.id,
        other_key_in_other_property_id=foreign.id,
    )
    for persona, (role, permission) in PERSONAS.items():
        person = make_person(session, f"{persona}@example.org")
        building.people[persona] = person.id
        if role is not None:
            unit_id = unit.id if role is Role.RESIDENT else None
            give_role(session, person.id, prop.id, role, unit_id=unit_id, permission=permission)
        if permission is Permission.KEYS_SPECIFIC:
            session.add(ManagedKey(person_id=person.id, key_id=managed.id))
    session.flush()
    return building


def token_for(
    session: Session,
    person_id: str,
    scopes: frozenset[Scope] = ALL_SCOPES,
    *,
    totp_satisfied: bool = False,
    expires_at: datetime | None = None,
    now: datetime = T0,
) -> str:
    """A bearer token for the person, made by the service directly at `now`."""
    _row, secret = service.issue_token(
        session,
        account_id(session, person_id),
        "test",
        scopes,
        expires_at,
        totp_satisfied,
        now,
    )
    session.flush()
    return secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def row_counts(session: Session) -> dict[str, int]:
    """Rows per table, to prove a refused request changed nothing."""
    session.expire_all()
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }
