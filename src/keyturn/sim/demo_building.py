"""The demo building: a New York City property with shared doors, 20 units and their people.

It is created once per database and found again on later runs, so `keyturn demo` can be
stopped and started without losing anything; the demo logins live in the data dir.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.models import Grant, GrantKind, Key
from keyturn.cloud.auth.passwords import hash_password
from keyturn.cloud.db import new_id, session_factory
from keyturn.cloud.people.models import Account, Person, RoleMembership, RolePermission
from keyturn.cloud.properties.models import Door, Portfolio, Property, Unit
from keyturn.cloud.properties.service import give_authority, give_door_secret
from keyturn.rules.types import DoorKind, Permission, Role

PROPERTY_NAME = "Keyturn Demo House"
PORTFOLIO_NAME = "Demo Portfolio"
JURISDICTION = "US-NY-NYC"
TIME_ZONE = "America/New_York"
UNIT_COUNT = 20
EMAIL_DOMAIN = "demo.keyturn.example"
LOGINS_FILE = "demo-logins.json"
SHARED_DOORS = (("Main entrance", DoorKind.ENTRANCE), ("Gym", DoorKind.COMMON))
PACKAGE_ROOM = ("Package room", DoorKind.COMMON)
# Fixed seed: every fresh demo has the same people, which makes it easy to talk about.
SEED = 2026


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: str
    email: str
    password: str


@dataclass(frozen=True, slots=True)
class DemoBuilding:
    property_id: str
    property_name: str
    jurisdiction: str
    time_zone: str
    units: int
    doors_by_kind: dict[str, int]
    people_by_role: dict[str, int]
    logins: tuple[DemoLogin, ...]
    data_dir: Path


def ensure_demo_building(engine: Engine, master_key: bytes, data_dir: Path) -> DemoBuilding:
    """Find the demo building in this database, or create it; return what it holds."""
    with session_factory(engine)() as session, session.begin():
        prop = session.scalars(select(Property).where(Property.name == PROPERTY_NAME)).first()
        if prop is None:
            logins = _create(session, master_key)
            _write_logins(data_dir / LOGINS_FILE, logins)
            prop = session.scalars(select(Property).where(Property.name == PROPERTY_NAME)).one()
        return _describe(session, prop, _read_logins(data_dir / LOGINS_FILE), data_dir)


def _create(session: Session, master_key: bytes) -> tuple[DemoLogin, ...]:
    rng = random.Random(SEED)  # noqa: S311 - picks demo names, protects nothing
    portfolio = Portfolio(name=PORTFOLIO_NAME)
    prop = Property(
        id=new_id(),
        portfolio=portfolio,
        name=PROPERTY_NAME,
        time_zone=TIME_ZONE,
        jurisdiction=JURISDICTION,
    )
    give_authority(prop, master_key)
    session.add_all([portfolio, prop])
    session.flush()

    def add_door(name: str, kind: DoorKind, unit: Unit | None = None) -> Door:
        door = Door(id=new_id(), property=prop, unit=unit, name=name, kind=kind)
        give_door_secret(door, master_key)
        session.add(door)
        session.flush()
        return door

    shared = [add_door(name, kind) for name, kind in (*SHARED_DOORS, PACKAGE_ROOM)]
    building_key = Key(property_id=prop.id, name="Building access", may_share=True, doors=shared)
    session.add(building_key)

    logins: list[DemoLogin] = []

    def add_person(name: str, role: Role, unit: Unit | None = None) -> Person:
        local = name.lower().replace(" ", ".")
        person = Person(id=new_id(), display_name=name, email=f"{local}@{EMAIL_DOMAIN}")
        session.add(person)
        session.add(
            RoleMembership(
                person=person,
                property_id=prop.id,
                role=role,
                unit_id=unit.id if unit else None,
            )
        )
        return person

    def add_login(person: Person, role: Role) -> None:
        password = secrets.token_urlsafe(12)
        session.add(Account(person_id=person.id, password_hash=hash_password(password)))
        assert person.email is not None
        logins.append(DemoLogin(role.value, person.email, password))

    first_names = ["Ada", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai"]
    last_names = ["Park", "Diaz", "Okafor", "Novak", "Singh", "Moreau", "Tanaka", "Berg"]
    now = datetime.now(UTC)
    for number in range(1, UNIT_COUNT + 1):
        label = f"{(number - 1) // 4 + 1}{'ABCD'[(number - 1) % 4]}"
        unit = Unit(id=new_id(), property=prop, label=label)
        session.add(unit)
        door = add_door(f"Unit {label}", DoorKind.RESIDENCE, unit)
        unit_key = Key(property_id=prop.id, name=f"Unit {label}", may_share=True, doors=[door])
        session.add(unit_key)
        household = rng.choice((1, 1, 2, 2, 3))
        for first in rng.sample(first_names, household):
            name = f"{first} {rng.choice(last_names)} {label}"
            resident = add_person(name, Role.RESIDENT, unit)
            for key in (unit_key, building_key):
                session.add(
                    Grant(
                        person_id=resident.id,
                        key=key,
                        kind=GrantKind.STANDARD,
                        starts_at=now,
                        resident=key is unit_key,
                    )
                )
            if not any(login.role == Role.RESIDENT for login in logins):
                add_login(resident, Role.RESIDENT)

    manager = add_person("Morgan Manager", Role.PROPERTY_MANAGER)
    for permission in (Permission.KEYS_FULL, Permission.DEVICE_MANAGEMENT):
        session.add(
            RolePermission(person_id=manager.id, property_id=prop.id, permission=permission)
        )
    add_login(manager, Role.PROPERTY_MANAGER)
    owner = add_person("Pat Portfolio", Role.PORTFOLIO_MANAGER)
    add_login(owner, Role.PORTFOLIO_MANAGER)
    session.flush()
    return tuple(logins)


def _describe(
    session: Session, prop: Property, logins: tuple[DemoLogin, ...], data_dir: Path
) -> DemoBuilding:
    doors = session.scalars(select(Door.kind).where(Door.property_id == prop.id)).all()
    roles = session.scalars(
        select(RoleMembership.role).where(RoleMembership.property_id == prop.id)
    ).all()
    units = session.scalars(select(Unit.id).where(Unit.property_id == prop.id)).all()
    return DemoBuilding(
        property_id=prop.id,
        property_name=prop.name,
        jurisdiction=prop.jurisdiction,
        time_zone=prop.time_zone,
        units=len(units),
        doors_by_kind=dict(Counter(str(kind) for kind in doors)),
        people_by_role=dict(Counter(str(role) for role in roles)),
        logins=logins,
        data_dir=data_dir.resolve(),
    )


def _write_logins(path: Path, logins: tuple[DemoLogin, ...]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump([_as_dict(login) for login in logins], handle, indent=2)


def _as_dict(login: DemoLogin) -> dict[str, str]:
    return {"role": login.role, "email": login.email, "password": login.password}


def _read_logins(path: Path) -> tuple[DemoLogin, ...]:
    if not path.exists():
        return ()
    return tuple(DemoLogin(**item) for item in json.loads(path.read_text()))
