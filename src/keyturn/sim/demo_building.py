"""The demo building: a New York City property with shared doors, 20 units and their people,
who hold real doorcodes, phones and keycards issued through the cloud's own services.

It is created once per database and found again on later runs, so `keyturn demo` can be
stopped and started without losing anything; the demo logins and what each simulated
resident knows or carries (codes, card, phone key) live in the data dir, readable by the
owner only.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from keyturn.cloud.access.credentials.service import activate_keycard, enrol_phone, issue_doorcode
from keyturn.cloud.access.keys.service import create_key, new_grant
from keyturn.cloud.access.revocation import Credential, revoke
from keyturn.cloud.access.suspension import service as suspension
from keyturn.cloud.auth.service import open_account
from keyturn.cloud.models import (
    Door,
    Key,
    Keycard,
    MobileKeyRegistration,
    Person,
    Property,
    RoleMembership,
    Unit,
)
from keyturn.cloud.people import service as people
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.people.managers.service import KeyLevel, Powers, write_powers
from keyturn.cloud.people.profiles import profile_at, profile_in
from keyturn.cloud.properties.schemas import PropertyCreate
from keyturn.cloud.properties.service import (
    create_door,
    create_portfolio,
    create_property,
    create_unit,
)
from keyturn.cloud.sessions import session_factory
from keyturn.crypto.keys import SigningKeyPair
from keyturn.rules.types import DoorKind, Role
from keyturn.sim.demo_visitors import MANAGERS, Household, add_visitors

PROPERTY_NAME = "Keyturn Demo House"
PORTFOLIO_NAME = "Demo Portfolio"
JURISDICTION = "US-NY-NYC"
TIME_ZONE = "America/New_York"
UNIT_COUNT = 20
EMAIL_DOMAIN = "demo.keyturn.example"
LOGINS_FILE = "demo-logins.json"
RESIDENTS_FILE = "demo-residents.json"
SHARED_DOORS = (("Main entrance", DoorKind.ENTRANCE), ("Gym", DoorKind.COMMON))
PACKAGE_ROOM = ("Package room", DoorKind.COMMON)
MANAGER_NAME = "Morgan Manager"
# A teenager in unit 1B shows R7: a minor's credentials need a guardian's written consent.
MINOR = ("Teo Park 1B", "1B")
GUARDIAN_CONSENT_DOCUMENT = "demo: consent form signed by a parent, kept by the manager"
# Every other resident carries a keycard; the rest use their phone and codes only.
CARD_EVERY = 2
# Fixed seed: every fresh demo has the same people, which makes it easy to talk about.
SEED = 2026


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: str
    email: str
    password: str


@dataclass(frozen=True, slots=True)
class DemoDoor:
    id: str
    name: str
    kind: DoorKind


@dataclass(frozen=True, slots=True)
class DemoResident:
    """What one simulated resident knows and carries: codes by door, a card, a phone key."""

    person_id: str
    name: str
    unit: str
    home_door_id: str
    codes: dict[str, str]
    card_uid: str | None
    phone_key: str  # the phone's private key, hex: it signs the lock's challenges
    phone_registration_id: str
    minor: bool
    suspended: bool

    @property
    def phone(self) -> SigningKeyPair:
        return SigningKeyPair.from_private_bytes(bytes.fromhex(self.phone_key))


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
    doors: tuple[DemoDoor, ...] = ()
    residents: tuple[DemoResident, ...] = ()


def ensure_demo_building(engine: Engine, master_key: bytes, data_dir: Path) -> DemoBuilding:
    """Find the demo building in this database, or create it; return what it holds.

    The residents' credentials are issued again when the data dir no longer holds what they
    carry (a new data dir over an old database), since codes are stored only as MACs.
    """
    now = datetime.now(UTC)
    with session_factory(engine)() as session, session.begin():
        prop = session.scalars(select(Property).where(Property.name == PROPERTY_NAME)).first()
        if prop is None:
            logins = _create(session, master_key, now)
            _write_private(data_dir / LOGINS_FILE, [asdict(login) for login in logins])
            prop = session.scalars(select(Property).where(Property.name == PROPERTY_NAME)).one()
        residents = _read_residents(data_dir / RESIDENTS_FILE)
        if not _residents_match(session, prop, residents):
            residents = _issue_credentials(session, master_key, prop, now)
            _write_private(data_dir / RESIDENTS_FILE, [asdict(r) for r in residents])
        return _describe(session, prop, _read_logins(data_dir / LOGINS_FILE), data_dir, residents)


def _create(session: Session, master_key: bytes, now: datetime) -> tuple[DemoLogin, ...]:
    rng = random.Random(SEED)  # noqa: S311 - picks demo names, protects nothing
    portfolio = create_portfolio(session=session, name=PORTFOLIO_NAME)
    prop = create_property(
        session=session,
        master_key=master_key,
        portfolio_id=portfolio.id,
        settings=PropertyCreate(name=PROPERTY_NAME, time_zone=TIME_ZONE, jurisdiction=JURISDICTION),
    )

    def add_door(name: str, kind: DoorKind, unit_id: str | None = None) -> Door:
        return create_door(
            session=session,
            master_key=master_key,
            property_id=prop.id,
            name=name,
            kind=kind,
            unit_id=unit_id,
        )

    def add_key(name: str, doors: list[Door]) -> Key:
        return create_key(
            session=session,
            property_id=prop.id,
            name=name,
            door_ids=[door.id for door in doors],
            windows=(),
            may_share=True,
            provides_doorcodes=True,
        )

    shared = [add_door(name, kind) for name, kind in (*SHARED_DOORS, PACKAGE_ROOM)]
    building_key = add_key("Building access", shared)

    logins: list[DemoLogin] = []

    def add_person(name: str, role: Role, by: str | None, unit: Unit | None = None) -> Person:
        local = name.lower().replace(" ", ".")
        person = people.add_person(
            session=session, display_name=name, email=f"{local}@{EMAIL_DOMAIN}"
        )
        profile_in(session, person=person, portfolio_id=portfolio.id, display_name=name)
        people.add_role(
            session=session,
            property_id=prop.id,
            person_id=person.id,
            role=role,
            unit_id=unit.id if unit else None,
            by=by,
        )
        return person

    def add_login(person: Person, role: str) -> None:
        password = secrets.token_urlsafe(12)
        open_account(session=session, person_id=person.id, password=password, now=now)
        assert person.email is not None
        logins.append(DemoLogin(role, person.email, password))

    owner = add_person("Pat Portfolio", Role.PORTFOLIO_MANAGER, None)
    manager = add_person(MANAGER_NAME, Role.PROPERTY_MANAGER, owner.id)
    write_powers(
        session=session,
        property_id=prop.id,
        person_id=manager.id,
        powers=Powers(keys=KeyLevel.FULL, device_management=True),
        by=owner.id,
    )

    def add_resident(name: str, unit: Unit, unit_key: Key) -> Person:
        resident = add_person(name, Role.RESIDENT, manager.id, unit)
        for key in (unit_key, building_key):
            new_grant(
                session=session,
                key=key,
                person_id=resident.id,
                starts_at=now,
                ends_at=None,
                resident=key is unit_key,
                created_by=manager.id,
                now=now,
            )
        return resident

    households: list[Household] = []
    first_names = ["Ada", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai"]
    last_names = ["Park", "Diaz", "Okafor", "Novak", "Singh", "Moreau", "Tanaka", "Berg"]
    for number in range(1, UNIT_COUNT + 1):
        label = f"{(number - 1) // 4 + 1}{'ABCD'[(number - 1) % 4]}"
        unit = create_unit(session=session, property_id=prop.id, label=label)
        unit_key = add_key(
            f"Unit {label}", [add_door(f"Unit {label}", DoorKind.RESIDENCE, unit.id)]
        )
        household = rng.choice((1, 1, 2, 2, 3))
        for first in rng.sample(first_names, household):
            resident = add_resident(f"{first} {rng.choice(last_names)} {label}", unit, unit_key)
            if not households:
                households.append(Household(resident, unit_key))
                add_login(resident, Role.RESIDENT.value)
        if label == MINOR[1]:
            minor = add_resident(MINOR[0], unit, unit_key)
            profile_at(session, person=minor, property_id=prop.id).is_minor = True

    add_login(manager, Role.PROPERTY_MANAGER.value)
    add_login(owner, Role.PORTFOLIO_MANAGER.value)
    for name, label, powers in MANAGERS:
        colleague = add_person(name, Role.PROPERTY_MANAGER, owner.id)
        write_powers(
            session=session, property_id=prop.id, person_id=colleague.id, powers=powers, by=owner.id
        )
        add_login(colleague, label)
    session.flush()
    add_visitors(
        session,
        master_key,
        prop,
        manager_id=manager.id,
        household=households[0],
        doors=shared,
        email_domain=EMAIL_DOMAIN,
        now=now,
    )
    return tuple(logins)


def _issue_credentials(
    session: Session, master_key: bytes, prop: Property, now: datetime
) -> tuple[DemoResident, ...]:
    """Give every resident a doorcode at the entrance and at home, a phone and maybe a card.

    Consent comes first (R5, R7): in New York City a tenant's credentials are collected only
    after their consent is recorded, and a minor's also after a guardian's written consent.
    The last resident then loses their phone and is suspended through the lost-phone flow
    (A6), so the locks have someone to refuse.
    """
    # Demo databases made before the keys handed out doorcodes get that flag now.
    session.execute(update(Key).where(Key.property_id == prop.id).values(provides_doorcodes=True))
    doors = {
        door.id: door for door in session.scalars(select(Door).where(Door.property_id == prop.id))
    }
    entrance = next(door for door in doors.values() if door.kind == DoorKind.ENTRANCE)
    home_of = {door.unit_id: door for door in doors.values() if door.kind == DoorKind.RESIDENCE}
    manager_id = session.scalars(
        select(RoleMembership.person_id).where(
            RoleMembership.property_id == prop.id, RoleMembership.role == Role.PROPERTY_MANAGER
        )
    ).first()
    assert manager_id is not None
    rows = session.execute(
        select(Person, Unit)
        .join(RoleMembership, RoleMembership.person_id == Person.id)
        .join(Unit, Unit.id == RoleMembership.unit_id)
        .where(RoleMembership.property_id == prop.id, RoleMembership.role == Role.RESIDENT)
        .order_by(Unit.label, Person.display_name)
    ).all()
    residents: list[DemoResident] = []
    for number, (person, unit) in enumerate(rows):
        # Agreed in the app at sign-up: a consent with no document reference.
        consent.record_in_app(session=session, person=person, now=now)
        profile = profile_at(session, person=person, property_id=prop.id)
        if profile.is_minor and profile.guardian_consent_document is None:
            consent.record_written_consent(
                session=session,
                property_id=prop.id,
                person_id=person.id,
                kind=consent.ConsentKind.GUARDIAN,
                document=GUARDIAN_CONSENT_DOCUMENT,
                recorded_by=manager_id,
                now=now,
            )
        session.flush()
        home = home_of[unit.id]
        codes = {
            door.id: issue_doorcode(
                session=session,
                master_key=master_key,
                property_id=prop.id,
                person_id=person.id,
                door_id=door.id,
                now=now,
            )
            for door in (entrance, home)
        }
        # A new phone each time: any earlier one of this resident is revoked first.
        phones = select(MobileKeyRegistration).where(
            MobileKeyRegistration.person_id == person.id,
            MobileKeyRegistration.revoked_at.is_(None),
        )
        _revoke_each(session, master_key, prop, session.scalars(phones).all(), now)
        phone = SigningKeyPair.generate()
        encoded = base64.urlsafe_b64encode(phone.public_bytes()).decode().rstrip("=")
        registration = enrol_phone(
            session=session, person_id=person.id, public_key=encoded, now=now
        )
        card_uid = None
        if number % CARD_EVERY == 0:
            cards = select(Keycard).where(Keycard.person_id == person.id, Keycard.active.is_(True))
            _revoke_each(session, master_key, prop, session.scalars(cards).all(), now)
            card_uid = secrets.token_hex(7).upper()
            activate_keycard(
                session=session, property_id=prop.id, person_id=person.id, card_uid=card_uid
            )
        residents.append(
            DemoResident(
                person_id=person.id,
                name=person.display_name,
                unit=unit.label,
                home_door_id=home.id,
                codes={door_id: issued.code for door_id, issued in codes.items()},
                card_uid=card_uid,
                phone_key=phone.private_bytes().hex(),
                phone_registration_id=registration.id,
                minor=profile.is_minor,
                suspended=False,
            )
        )
    suspended = residents[-1]
    suspension.suspend(
        session=session,
        master_key=master_key,
        property_id=prop.id,
        person_id=suspended.person_id,
        suspended_by=manager_id,
        send_temporary_code=False,
        now=now,
    )
    residents[-1] = DemoResident(**{**asdict(suspended), "suspended": True})
    return tuple(residents)


def _revoke_each(
    session: Session,
    master_key: bytes,
    prop: Property,
    credentials: Sequence[Credential],
    now: datetime,
) -> None:
    for credential in credentials:
        revoke(
            session=session,
            master_key=master_key,
            property_id=prop.id,
            credential=credential,
            now=now,
        )


def _residents_match(session: Session, prop: Property, residents: tuple[DemoResident, ...]) -> bool:
    """Whether the saved residents are this building's, so what they carry still works."""
    if not residents:
        return False
    known = set(
        session.scalars(
            select(RoleMembership.person_id).where(
                RoleMembership.property_id == prop.id, RoleMembership.role == Role.RESIDENT
            )
        )
    )
    return {resident.person_id for resident in residents} == known


def _describe(
    session: Session,
    prop: Property,
    logins: tuple[DemoLogin, ...],
    data_dir: Path,
    residents: tuple[DemoResident, ...],
) -> DemoBuilding:
    doors = session.execute(
        select(Door.id, Door.name, Door.kind).where(Door.property_id == prop.id).order_by(Door.name)
    ).all()
    roles = session.scalars(
        select(RoleMembership.role).where(RoleMembership.property_id == prop.id)
    ).all()
    units = session.scalars(select(Unit.id).where(Unit.property_id == prop.id)).all()
    # The entrance first, then the other shared doors, then the units, each by name.
    rank = {DoorKind.ENTRANCE: 0, DoorKind.RESIDENCE: 2}
    ordered = sorted(doors, key=lambda door: (rank.get(DoorKind(door.kind), 1), door.name))
    return DemoBuilding(
        property_id=prop.id,
        property_name=prop.name,
        jurisdiction=prop.jurisdiction,
        time_zone=prop.time_zone,
        units=len(units),
        doors_by_kind=dict(Counter(str(door.kind) for door in doors)),
        people_by_role=dict(Counter(str(role) for role in roles)),
        logins=logins,
        data_dir=data_dir.resolve(),
        doors=tuple(DemoDoor(door.id, door.name, DoorKind(door.kind)) for door in ordered),
        residents=residents,
    )


def _write_private(path: Path, items: list[dict[str, Any]]) -> None:
    """Write JSON that only the owner may read (mode 0600 from the start, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left by an older version may have been wider
    with os.fdopen(fd, "w") as handle:
        json.dump(items, handle, indent=2)


def _read_logins(path: Path) -> tuple[DemoLogin, ...]:
    if not path.exists():
        return ()
    return tuple(DemoLogin(**item) for item in json.loads(path.read_text()))


def _read_residents(path: Path) -> tuple[DemoResident, ...]:
    """The saved residents, or none when the file is missing or from another version."""
    try:
        return tuple(DemoResident(**item) for item in json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return ()
