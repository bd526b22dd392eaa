"""The named test worlds, every one made with `factories` (so through the cloud's services).

A world is a layer over the storage fixtures of tests/conftest.py (`engine`, `session`):

- rows in a session: the buildings below;
- the app on that database: `make_app`, and the `clock`, `app`, `client` and `db` fixtures
  of tests/conftest.py built on it;
- a live `keyturn serve` process on it: `live_server` in tests/security/conftest.py, which
  `LiveWorld` fills.

The buildings: `Personas` (one person per standing at a property, for the permission
walkers) and `Site` on top of it (doors, a resident key and locks, for the resource API);
`SyncBuilding` (a New York City building whose locks the sync tests play); `HistoryWorld`
(residence and shared doors with events, for history, privacy and webhook tests);
`RetentionSite` (a property whose records are aged for the retention job); `LiveWorld`
(locks at every door and many residents, for the races against a live server);
`ResidencyBuilding` (a New York City building with a unit key, locks and a resident moving in
and out, plus a building of another portfolio).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from factories import (
    MASTER_KEY,
    MASTER_KEY_TEXT,
    PASSWORD,
    T0,
    Clock,
    bearer,
    consent_in_app,
    enable_totp,
    give_doorcode,
    give_key,
    give_keycard,
    give_phone,
    make_door,
    make_key,
    make_member,
    make_person,
    make_property,
    make_unit,
    provision_lock,
    record_event,
    record_photo,
    revoke_credential,
    token_for,
)
from keyturn.cloud.app import create_app
from keyturn.cloud.devices.service import (
    create_provisioning_token,
    current_access_list,
    provision_device,
)
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import Device, Door, Event, Key, OutboxMessage, Photo
from keyturn.cloud.people.consent.service import ConsentKind, record_written
from keyturn.cloud.properties.service import authority_of
from keyturn.crypto.keys import SigningKeyPair
from keyturn.lock.agent import DownlinkResult, Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.provision import create_identity, install_config
from keyturn.protocol.messages import AccessList
from keyturn.rules.types import CredentialType, DoorKind, Permission, Reason, Role
from keyturn.settings import Settings

# The app on a test's database ----------------------------------------------------------------


def make_app(
    engine: Engine, db_url: str, data_dir: Path, clock: Clock | None = None, **settings: Any
) -> FastAPI:
    """The real app on the test's database; its clock is `clock` when given, else the host's."""
    application = create_app(
        Settings(data_dir=data_dir, database_url=db_url, master_key=MASTER_KEY_TEXT, **settings),
        engine,
    )
    if clock is not None:
        application.state.clock = clock
    return application


# Personas: one person per standing ------------------------------------------------------------

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


@dataclass
class Personas:
    """12 Elm St with one person per standing, and 3 Oak Ave of another portfolio."""

    portfolio_id: str
    property_id: str
    unit_id: str
    managed_key_id: str  # the key pm_keys_specific manages
    other_key_id: str
    other_property_id: str
    other_key_in_other_property_id: str
    people: dict[str, str] = field(default_factory=dict)


def make_personas(session: Session) -> Personas:
    """Two properties of two portfolios; one person per persona at the first."""
    prop = make_property(session, portfolio_name="Elm Holdings", name="12 Elm St")
    other = make_property(session, portfolio_name="Oak Holdings", name="3 Oak Ave")
    unit = make_unit(session, property_id=prop.id, label="4B")
    managed = make_key(session, property_id=prop.id, name="Gym")
    unmanaged = make_key(session, property_id=prop.id, name="Roof")
    foreign = make_key(session, property_id=other.id, name="Oak lobby")
    personas = Personas(
        portfolio_id=prop.portfolio_id,
        property_id=prop.id,
        unit_id=unit.id,
        managed_key_id=managed.id,
        other_key_id=unmanaged.id,
        other_property_id=other.id,
        other_key_in_other_property_id=foreign.id,
    )
    for persona, (role, permission) in PERSONAS.items():
        personas.people[persona] = make_member(
            session,
            email=f"{persona}@example.org",
            property_id=prop.id,
            role=role,
            unit_id=unit.id if role is Role.RESIDENT else None,
            permission=permission,
            key_ids=(managed.id,) if permission is Permission.KEYS_SPECIFIC else (),
        ).id
    return personas


# Site: the personas' property with doors, a resident key and locks ------------------------------


@dataclass
class Site:
    """The first property of `Personas`, with doors, a resident key and two locks."""

    personas: Personas
    entrance_id: str
    package_room_id: str
    home_id: str  # the resident's residence door (unit 4B)
    neighbour_id: str  # another unit's residence door
    other_unit_id: str
    resident_key_id: str
    resident_grant_id: str
    entrance_lock_id: str
    home_lock_id: str
    foreign_door_id: str  # a door of the other property
    foreign_person_id: str  # a resident of the other property only
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def property_id(self) -> str:
        return self.personas.property_id

    @property
    def url(self) -> str:
        return f"/api/v1/properties/{self.personas.property_id}"

    def person(self, persona: str) -> str:
        return self.personas.people[persona]

    def auth(self, persona: str) -> dict[str, str]:
        return bearer(self.tokens[persona])


def make_site(session: Session) -> Site:
    personas = make_personas(session)
    prop_id, other_id = personas.property_id, personas.other_property_id
    other_unit = make_unit(session, property_id=prop_id, label="5C")
    foreign_unit = make_unit(session, property_id=other_id, label="1A")
    foreign_door = make_door(
        session,
        property_id=other_id,
        name="Oak 1A",
        kind=DoorKind.RESIDENCE,
        unit_id=foreign_unit.id,
    )
    foreign_person = make_member(
        session,
        email="oak-resident@example.org",
        property_id=other_id,
        role=Role.RESIDENT,
        unit_id=foreign_unit.id,
    )

    def door(name: str, kind: DoorKind, unit_id: str | None = None) -> str:
        return make_door(session, property_id=prop_id, name=name, kind=kind, unit_id=unit_id).id

    entrance = door("Entrance", DoorKind.ENTRANCE)
    package_room = door("Package room", DoorKind.COMMON)
    home = door("4B door", DoorKind.RESIDENCE, personas.unit_id)
    neighbour = door("5C door", DoorKind.RESIDENCE, other_unit.id)
    key = make_key(
        session,
        property_id=prop_id,
        name="Residents 4B",
        door_ids=[entrance, home],
        may_share=True,
        provides_doorcodes=True,
    )
    grant = give_key(
        session,
        key=key,
        person_id=personas.people["resident"],
        starts_at=T0 - timedelta(days=30),
        resident=True,
        by=personas.people["portfolio_manager"],
    )
    site = Site(
        personas=personas,
        entrance_id=entrance,
        package_room_id=package_room,
        home_id=home,
        neighbour_id=neighbour,
        other_unit_id=other_unit.id,
        resident_key_id=key.id,
        resident_grant_id=grant.id,
        entrance_lock_id=provision_lock(session, door_id=entrance).device_id,
        home_lock_id=provision_lock(session, door_id=home).device_id,
        foreign_door_id=foreign_door.id,
        foreign_person_id=foreign_person.id,
    )
    for persona, person_id in personas.people.items():
        site.tokens[persona] = token_for(session, person_id)
    return site


def sync(session: Session, device_id: str, now: datetime = T0) -> AccessList:
    """What a lock's successful sync records: it applied its door's current list."""
    session.expire_all()
    device = session.get_one(Device, device_id)
    assert device.door_id is not None
    current = current_access_list(
        session=session, master_key=MASTER_KEY, door_id=device.door_id, now=now
    )
    device.applied_access_list_version = current.version
    device.last_sync_at = now
    session.commit()
    return current


def mails_to(session: Session, address: str) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)))


# SyncBuilding: a New York City building whose locks the sync tests play ------------------------

SYNC_NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


@dataclass
class SyncBuilding:
    property_id: str
    authority: SigningKeyPair
    entrance_id: str
    gym_id: str
    residence_id: str
    resident_id: str
    manager_id: str
    building_key_id: str
    grant_id: str


def make_sync_building(session: Session) -> SyncBuilding:
    """A New York City property with an entrance, a gym and one residence door, and one
    resident holding the building key (entrance and gym) granted by a manager."""
    prop = make_property(
        session,
        name="12 Elm St",
        jurisdiction="US-NY-NYC",
        doorcode_length=6,
        lockout_max_failures=4,
    )
    doors = {
        kind: make_door(session, property_id=prop.id, name=name, kind=kind)
        for name, kind in (
            ("Main entrance", DoorKind.ENTRANCE),
            ("Gym", DoorKind.COMMON),
            ("Unit 1A", DoorKind.RESIDENCE),
        )
    }
    resident = make_person(session, email="ada@example.test", name="Ada Park")
    manager = make_person(session, email="morgan@example.test", name="Morgan Manager")
    key = make_key(
        session,
        property_id=prop.id,
        name="Building",
        door_ids=[doors[DoorKind.ENTRANCE].id, doors[DoorKind.COMMON].id],
    )
    grant = give_key(
        session,
        key=key,
        person_id=resident.id,
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        by=manager.id,
    )
    # Neither has a role here, so New York City treats both as tenants: the resident agreed in
    # the app, the manager (known here by nothing yet) in writing.
    consent_in_app(session, person_id=resident.id, now=SYNC_NOW)
    record_written(
        session=session,
        person=manager,
        property_id=prop.id,
        kind=ConsentKind.TENANT,
        document="signed at the office",
        recorded_by=manager.id,
        now=SYNC_NOW,
    )
    session.flush()
    return SyncBuilding(
        property_id=prop.id,
        authority=authority_of(session=session, master_key=MASTER_KEY, property_id=prop.id),
        entrance_id=doors[DoorKind.ENTRANCE].id,
        gym_id=doors[DoorKind.COMMON].id,
        residence_id=doors[DoorKind.RESIDENCE].id,
        resident_id=resident.id,
        manager_id=manager.id,
        building_key_id=key.id,
        grant_id=grant.id,
    )


# HistoryWorld: people in every standing and events at each kind of door ------------------------


@dataclass
class HistoryWorld:
    """12 Elm St (entrance, gym, residences 1A and 2B) and a foreign building, 3 Oak Ave."""

    property_id: str
    other_property_id: str
    doors: dict[str, Door]
    people: dict[str, str]
    events: dict[str, Event] = field(default_factory=dict)


# Standing at 12 Elm St: a role, a manager permission, the residence doors held as resident.
STANDINGS: dict[str, tuple[Role | None, Permission | None, tuple[str, ...]]] = {
    "manager": (Role.PROPERTY_MANAGER, None, ()),
    "security": (Role.PROPERTY_MANAGER, Permission.SECURITY_VIEWER, ()),
    "owner": (Role.PORTFOLIO_MANAGER, None, ()),
    "staff": (Role.STAFF, None, ()),
    "resident": (Role.RESIDENT, None, ("1A",)),
    "coresident": (Role.RESIDENT, None, ("1A",)),
    "neighbour": (Role.RESIDENT, None, ("2B",)),
    "guest": (Role.GUEST, None, ()),
    "outsider": (None, None, ()),
}


def make_history_world(session: Session) -> HistoryWorld:
    """The building, its people and their resident grants; no events yet."""
    prop = make_property(session, portfolio_name="Elm Holdings", name="12 Elm St")
    other = make_property(session, portfolio_name="Oak Holdings", name="3 Oak Ave")
    doors: dict[str, Door] = {}
    for name, kind, where in (
        ("entrance", DoorKind.ENTRANCE, prop.id),
        ("gym", DoorKind.COMMON, prop.id),
        ("1A", DoorKind.RESIDENCE, prop.id),
        ("2B", DoorKind.RESIDENCE, prop.id),
        ("oak", DoorKind.ENTRANCE, other.id),
    ):
        unit = (
            make_unit(session, property_id=where, label=name)
            if kind is DoorKind.RESIDENCE
            else None
        )
        doors[name] = make_door(
            session, property_id=where, name=name, kind=kind, unit_id=unit.id if unit else None
        )
    keys = {
        label: make_key(
            session, property_id=prop.id, name=f"Unit {label}", door_ids=[doors[label].id]
        )
        for label in ("1A", "2B")
    }
    people: dict[str, str] = {}
    for name, (role, permission, homes) in STANDINGS.items():
        person = make_member(
            session,
            email=f"{name}@example.org",
            name=name,
            property_id=prop.id,
            role=role,
            unit_id=doors[homes[0]].unit_id if homes else None,
            permission=permission,
        )
        people[name] = person.id
        for label in homes:
            give_key(
                session,
                key=keys[label],
                person_id=person.id,
                starts_at=T0 - timedelta(days=30),
                resident=True,
            )
    give_key(
        session,
        key=keys["1A"],
        person_id=people["guest"],
        starts_at=T0 - timedelta(days=1),
        by=people["resident"],
    )
    return HistoryWorld(prop.id, other.id, doors, people)


def add_event(
    session: Session,
    world: HistoryWorld,
    name: str,
    door: str,
    subject: str | None,
    *,
    granted_by: str | None = None,
    by_resident: bool = False,
    minutes: int = 0,
    credential: CredentialType = CredentialType.MOBILE_KEY,
    reason: Reason = Reason.GRANTED,
) -> Event:
    """One attempt `minutes` after an hour before T0, remembered under `name`."""
    event = record_event(
        session,
        door=world.doors[door],
        occurred_at=T0 - timedelta(hours=1) + timedelta(minutes=minutes),
        subject_id=None if subject is None else world.people[subject],
        granted_by=None if granted_by is None else world.people[granted_by],
        by_resident=by_resident,
        credential_type=credential,
        reason=reason,
    )
    world.events[name] = event
    return event


def add_photo(session: Session, data_dir: Path, event: Event, jpeg: bytes | None = None) -> Photo:
    """The event's photo, stored where the app on `data_dir` keeps photos."""
    photo_dir = data_dir / "photos"
    if jpeg is None:
        return record_photo(session, photo_dir=photo_dir, event=event)
    return record_photo(session, photo_dir=photo_dir, event=event, jpeg=jpeg)


def tokens(session: Session, world: HistoryWorld, **totp: bool) -> dict[str, str]:
    """A bearer token per person; name=True in `totp` marks that one as signed in with TOTP."""
    made = {
        name: token_for(session, person_id, totp_satisfied=totp.get(name, False))
        for name, person_id in world.people.items()
    }
    session.commit()
    return made


def all_pages(
    client: TestClient, token: str, property_id: str, **params: Any
) -> list[dict[str, Any]]:
    """Every item /events returns to this caller, following next_cursor to the end."""
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        answer = client.get(
            f"/api/v1/properties/{property_id}/events", params=query, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


# RetentionSite: a property whose records are aged before the retention job runs ----------------

RETENTION_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = RETENTION_NOW - timedelta(days=3000)


@dataclass(frozen=True)
class RetentionSite:
    """One property with one entrance door, its lock and one key to the door."""

    name: str
    property_id: str
    door_id: str
    device_id: str
    key_id: str


def add_retention_site(
    session: Session,
    name: str,
    jurisdiction: str = "default",
    *,
    override: int | None = None,
    stored_through: int = 1_000_000,
) -> RetentionSite:
    """A property made long ago whose lock has acknowledged every entry up to
    `stored_through` (its watermark, as its syncs recorded it)."""
    prop = make_property(
        session,
        portfolio_name=f"{name} holdings",
        name=name,
        jurisdiction=jurisdiction,
        retention_days_override=override,
    )
    door = make_door(session, property_id=prop.id, name="entrance")
    lock = provision_lock(session, door_id=door.id, now=LONG_AGO)
    session.get_one(Device, lock.device_id).stored_through_seq = stored_through
    key = make_key(session, property_id=prop.id, name="entrance", door_ids=[door.id])
    return RetentionSite(name, prop.id, door.id, lock.device_id, key.id)


def add_aged_person(session: Session, name: str) -> str:
    """A person known long ago, with no role; they consent (R5) once a grant places them."""
    return make_person(session, email=f"{name}@example.org", name=name, now=LONG_AGO).id


def add_aged_grant(
    session: Session,
    site: RetentionSite,
    person_id: str,
    *,
    ended: timedelta | None = None,
    revoked: timedelta | None = None,
) -> str:
    """A grant given long ago that ended (or was revoked) `ended` before RETENTION_NOW."""
    grant = give_key(
        session,
        key=session.get_one(Key, site.key_id),
        person_id=person_id,
        starts_at=LONG_AGO,
        ends_at=None if ended is None else RETENTION_NOW - ended,
    )
    consent_in_app(session, person_id=person_id, now=LONG_AGO)
    if revoked is not None:
        revoke_credential(
            session,
            property_id=site.property_id,
            credential=grant,
            now=RETENTION_NOW - revoked,
        )
    return grant.id


def add_aged_credentials(session: Session, site: RetentionSite, person_id: str) -> dict[str, str]:
    """A doorcode and a keycard at the site and a phone, all made long ago (after a grant)."""
    uid = hashlib.sha1(f"{site.name}-{person_id}".encode()).hexdigest()[:8].upper()
    with time_machine.travel(LONG_AGO, tick=False):
        doorcode = give_doorcode(session, person_id=person_id, door_id=site.door_id, now=LONG_AGO)
        keycard = give_keycard(
            session, property_id=site.property_id, person_id=person_id, card_uid=uid
        )
        phone = give_phone(session, person_id=person_id, now=LONG_AGO)
    return {"doorcode": doorcode.record_id, "keycard": keycard.id, "phone": phone.id}


def add_aged_event(
    session: Session,
    site: RetentionSite,
    seq: int,
    age: timedelta,
    *,
    subject: str | None = None,
    grant_id: str | None = None,
    reason: Reason = Reason.GRANTED,
) -> Event:
    """Entry `seq` of the site's lock, `age` before RETENTION_NOW, with every link to a person."""
    return record_event(
        session,
        door=session.get_one(Door, site.door_id),
        occurred_at=RETENTION_NOW - age,
        subject_id=subject,
        granted_by=subject,
        grant_id=grant_id,
        credential_type=CredentialType.KEYCARD,
        credential_id=f"card-{seq}",
        by_resident=True,
        reason=reason,
        device_id=site.device_id,
        device_seq=seq,
        detail="front door" if subject else None,
    )


# LiveWorld: locks at every door and residents, for a live server --------------------------------

MANAGER_EMAIL = "manager@example.org"


@dataclass
class LiveWorld:
    """A building with live locks at every door, residents holding keys, and a manager."""

    property_id: str
    door_ids: list[str]
    key_ids: list[str]  # keys over every door, with doorcodes
    manager_token: str
    manager_email: str = MANAGER_EMAIL
    password: str = PASSWORD
    master_key: bytes = MASTER_KEY
    master_key_text: str = MASTER_KEY_TEXT
    residents: list[str] = field(default_factory=list)
    grant_ids: dict[str, str] = field(default_factory=dict)  # resident → their grant
    doorcode_ids: dict[str, str] = field(default_factory=dict)  # resident → code at door 0
    keycard_ids: dict[str, str] = field(default_factory=dict)  # resident → active card
    totp_secret: bytes | None = None

    @property
    def url(self) -> str:
        return f"/api/v1/properties/{self.property_id}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.manager_token}"}


def make_live_world(
    session: Session,
    *,
    now: datetime,
    doors: int = 4,
    residents: int = 0,
    with_totp: bool = False,
) -> LiveWorld:
    """The building as of `now`; each resident holds one grant of key 0 (from a day before),
    a code at door 0 and a card. The manager signs in with a password (and TOTP if asked)."""
    prop = make_property(session, name="12 Elm St", time_zone="UTC")
    unit = make_unit(session, property_id=prop.id, label="1A")
    door_ids = [
        make_door(session, property_id=prop.id, name=f"Door {n}", kind=DoorKind.COMMON).id
        for n in range(doors)
    ]
    for door_id in door_ids:
        provision_lock(session, door_id=door_id, now=now)
    keys = [
        make_key(
            session,
            property_id=prop.id,
            name=f"All doors {n}",
            door_ids=door_ids,
            provides_doorcodes=True,
        )
        for n in range(2)
    ]
    manager = make_member(
        session,
        email=MANAGER_EMAIL,
        name="manager",
        password=PASSWORD,
        property_id=prop.id,
        role=Role.PORTFOLIO_MANAGER,
        now=now,
    )
    token = token_for(session, manager.id, totp_satisfied=with_totp, now=now)
    secret = enable_totp(session, token=token, now=now) if with_totp else None
    world = LiveWorld(prop.id, door_ids, [key.id for key in keys], token, totp_secret=secret)
    for n in range(residents):
        person = make_member(
            session,
            email=f"resident{n}@example.org",
            name=f"resident{n}",
            property_id=prop.id,
            role=Role.RESIDENT,
            unit_id=unit.id,
        )
        grant = give_key(
            session,
            key=keys[0],
            person_id=person.id,
            starts_at=now - timedelta(days=1),
            resident=True,
        )
        world.residents.append(person.id)
        world.grant_ids[person.id] = grant.id
        world.doorcode_ids[person.id] = give_doorcode(
            session, person_id=person.id, door_id=door_ids[0], now=now
        ).record_id
        world.keycard_ids[person.id] = give_keycard(
            session, property_id=prop.id, person_id=person.id, card_uid=f"04{n:06X}"
        ).id
    for door_id in door_ids:
        current_access_list(session=session, master_key=MASTER_KEY, door_id=door_id, now=now)
    session.commit()
    return world


# ResidencyBuilding: a unit with its own key and locks, for move-in and move-out -------------------


@dataclass
class ResidencyBuilding:
    """12 Elm St (New York City): units 4B and 5C, an entrance, a gym, locks at the entrance,
    the gym and 4B's door; 4B's unit key (entrance and 4B's door, shareable, with doorcodes),
    a building key (entrance and gym) and a staff key (gym). Ada (no role yet) and a
    portfolio manager; 3 Oak Ave of another portfolio with one door and its lock."""

    property_id: str
    unit_id: str  # 4B
    other_unit_id: str  # 5C, whose only door has no lock and no key
    entrance_id: str
    gym_id: str
    home_id: str  # 4B's residence door
    unit_key_id: str
    building_key_id: str
    staff_key_id: str
    manager_id: str
    resident_id: str
    lock_ids: dict[str, str]  # door id -> device id
    other_property_id: str
    other_door_id: str
    other_key_id: str


def make_residency_building(session: Session, *, locks: bool = True) -> ResidencyBuilding:
    """The building; without `locks` its doors have none, for a test that installs real ones
    (`install_real_lock`)."""
    prop = make_property(session, name="12 Elm St", jurisdiction="US-NY-NYC", doorcode_length=6)
    unit = make_unit(session, property_id=prop.id, label="4B")
    other_unit = make_unit(session, property_id=prop.id, label="5C")
    entrance = make_door(session, property_id=prop.id, name="Entrance", kind=DoorKind.ENTRANCE)
    gym = make_door(session, property_id=prop.id, name="Gym", kind=DoorKind.COMMON)
    home = make_door(
        session, property_id=prop.id, name="4B door", kind=DoorKind.RESIDENCE, unit_id=unit.id
    )
    make_door(
        session,
        property_id=prop.id,
        name="5C door",
        kind=DoorKind.RESIDENCE,
        unit_id=other_unit.id,
    )
    unit_key = make_key(
        session,
        property_id=prop.id,
        name="Residents 4B",
        door_ids=[entrance.id, home.id],
        may_share=True,
        provides_doorcodes=True,
        unit_id=unit.id,
    )
    building_key = make_key(
        session, property_id=prop.id, name="Building", door_ids=[entrance.id, gym.id]
    )
    staff_key = make_key(session, property_id=prop.id, name="Staff", door_ids=[gym.id])
    manager = make_member(
        session,
        email="morgan@example.test",
        name="Morgan Manager",
        property_id=prop.id,
        role=Role.PORTFOLIO_MANAGER,
    )
    resident = make_person(session, email="ada@example.test", name="Ada Park")
    other = make_property(session, portfolio_name="Oak Holdings", name="3 Oak Ave")
    other_door = make_door(session, property_id=other.id, name="Oak lobby")
    other_key = make_key(session, property_id=other.id, name="Oak lobby", door_ids=[other_door.id])
    lock_ids = {
        door.id: provision_lock(session, door_id=door.id).device_id
        for door in (entrance, gym, home, other_door)
        if locks
    }
    session.flush()
    return ResidencyBuilding(
        property_id=prop.id,
        unit_id=unit.id,
        other_unit_id=other_unit.id,
        entrance_id=entrance.id,
        gym_id=gym.id,
        home_id=home.id,
        unit_key_id=unit_key.id,
        building_key_id=building_key.id,
        staff_key_id=staff_key.id,
        manager_id=manager.id,
        resident_id=resident.id,
        lock_ids=lock_ids,
        other_property_id=other.id,
        other_door_id=other_door.id,
        other_key_id=other_key.id,
    )


# Real locks: the lock's own code, provisioned and synced through the cloud's real services ------


def install_real_lock(
    session: Session,
    *,
    door_id: str,
    data_dir: Path,
    clock: ManualClock,
    now: datetime = T0,
    model: str = "keyturn-r1",
) -> Lock:
    """A real lock at the door: its own identity, provisioned as an installer does."""
    data_dir.mkdir(parents=True)
    public = create_identity(data_dir)
    token = create_provisioning_token(session=session, door_id=door_id, model_name=model, now=now)
    config = provision_device(
        session=session,
        master_key=MASTER_KEY,
        token=token,
        public_key=public.public_bytes(),
        model_name=model,
        now=now,
    )
    session.commit()
    install_config(data_dir, config)
    return Lock.open(data_dir, clock)


def sync_real_lock(
    session: Session, lock: Lock, *, clock: ManualClock, now: datetime, photo_dir: Path
) -> DownlinkResult:
    """One sync of a real lock at `now` through the cloud's sync handler, committed."""
    clock.set(now)
    answer = handle_uplink(session, MASTER_KEY, photo_dir, lock.build_uplink(), now)
    session.commit()
    return lock.apply_downlink(answer)


@dataclass
class RealLock:
    """A real lock on its own manual clock, enrolled at a door of the test's cloud."""

    door_id: str
    lock: Lock
    clock: ManualClock
    photo_dir: Path

    def at(self, moment: datetime) -> Lock:
        """The lock with its clock set to `moment`."""
        self.clock.set(moment)
        return self.lock

    def sync(self, session: Session, now: datetime) -> DownlinkResult:
        """One real exchange at `now` (see `sync_real_lock`)."""
        return sync_real_lock(
            session, self.lock, clock=self.clock, now=now, photo_dir=self.photo_dir
        )


def real_lock(
    session: Session, *, door_id: str, folder: Path, now: datetime, model: str = "keyturn-r1"
) -> RealLock:
    """A new lock at the door through the real provisioning flow, its own clock at `now`."""
    clock = ManualClock(now)
    lock = install_real_lock(
        session, door_id=door_id, data_dir=folder / "lock", clock=clock, now=now, model=model
    )
    return RealLock(door_id, lock, clock, folder / "photos")
