"""The simulated building: people, keys, credentials and provisioned locks, created through
the cloud's own services and mirrored as ground truth for the oracle.

Everything random comes from one seeded generator, so a run can be repeated exactly.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from keyturn.cloud.access.codes import issue_personal_code
from keyturn.cloud.access.credentials.service import activate_keycard, enrol_phone
from keyturn.cloud.access.keys.schemas import Window
from keyturn.cloud.access.keys.service import create_key, new_grant
from keyturn.cloud.auth.service import open_account
from keyturn.cloud.devices.service import (
    create_provisioning_token,
    ensure_device_models,
    provision_device,
)
from keyturn.cloud.models import GrantKind, Key, Person
from keyturn.cloud.people import service as people_service
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.properties.schemas import PropertyCreate
from keyturn.cloud.properties.service import (
    create_door,
    create_portfolio,
    create_property,
    create_unit,
)
from keyturn.crypto.keys import SigningKeyPair
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.provision import create_identity, install_config
from keyturn.rules.types import Capability, DoorKind, Role
from keyturn.sim.oracle import Truth

TIME_ZONE = "America/New_York"
SHARED_DOORS = (
    ("Entrance", DoorKind.ENTRANCE),
    ("Gym", DoorKind.COMMON),
    ("Package room", DoorKind.COMMON),
)
WALKER_HOURS = (time(9), time(17))
WALKER_WEEKDAYS = frozenset(range(5))
EMAIL_DOMAIN = "sim.keyturn.example"


@dataclass
class SimDoor:
    id: str
    name: str
    kind: DoorKind
    model: str
    lock: Lock | None = None
    lock_dir: Path | None = None
    known_at: datetime | None = None  # the cloud state the lock's access list reflects
    synced_at: datetime | None = None  # the lock's last exchange with the cloud
    relay_only: bool = False  # no network of its own: syncs through residents' phones
    retired_devices: list[tuple[str, int]] = field(default_factory=list)

    def capable(self, capability: Capability) -> bool:
        assert self.lock is not None
        return self.lock.settings.has(capability)


@dataclass
class SimPerson:
    id: str
    role: Role
    home: SimDoor | None = None
    code_at: dict[str, tuple[str, Truth]] = field(default_factory=dict)  # door id → code
    card: tuple[str, Truth] | None = None
    phone: SigningKeyPair | None = None
    phone_registered_at: datetime | None = None
    registration_id: str | None = None
    temporary_codes: dict[str, tuple[str, Truth]] = field(default_factory=dict)  # lost phone
    tokens: list[tuple[bytes, Truth]] = field(default_factory=list)
    membership_id: str | None = None  # a resident's residency
    email: str | None = None
    moved_out: bool = False
    from_pms: bool = False  # moved in by the PMS sync, which alone moves them out


@dataclass
class SimBuilding:
    property_id: str
    tz: ZoneInfo
    doors: list[SimDoor]
    people: list[SimPerson]
    manager: SimPerson
    walker: SimPerson
    walker_home: SimDoor
    grants_by_person: dict[str, list[str]]
    units: dict[str, SimDoor] = field(default_factory=dict)  # unit label -> its door

    @property
    def entrance(self) -> SimDoor:
        return self.doors[0]

    @property
    def gym(self) -> SimDoor:
        return self.doors[1]

    @property
    def package_room(self) -> SimDoor:
        return self.doors[2]

    @property
    def residents(self) -> list[SimPerson]:
        return [p for p in self.people if p.role is Role.RESIDENT]

    @property
    def staff(self) -> list[SimPerson]:
        return [p for p in self.people if p.role is Role.STAFF]


def build(
    session: Session,
    master_key: bytes,
    rng: random.Random,
    doors: int,
    residents: int,
    now: datetime,
    locks_dir: Path,
    clock: ManualClock,
    truths: list[Truth],
) -> SimBuilding:
    """Create the building in the cloud, provision one lock per door, and record the truth."""
    if doors < len(SHARED_DOORS) + 1:
        raise ValueError(f"a simulated building needs at least {len(SHARED_DOORS) + 1} doors")
    if residents < 1:
        raise ValueError("a simulated building needs at least one resident")
    tz = ZoneInfo(TIME_ZONE)
    portfolio = create_portfolio(session=session, name="Simulated portfolio")
    prop = create_property(
        session=session,
        master_key=master_key,
        portfolio_id=portfolio.id,
        settings=PropertyCreate(
            name="Simulated building", time_zone=TIME_ZONE, jurisdiction="default"
        ),
    )
    ensure_device_models(session)

    sim_doors: list[SimDoor] = []

    def add_door(name: str, kind: DoorKind, model: str, unit_id: str | None = None) -> SimDoor:
        door = create_door(
            session=session,
            master_key=master_key,
            property_id=prop.id,
            name=name,
            kind=kind,
            unit_id=unit_id,
        )
        sim = SimDoor(door.id, name, kind, model)
        sim_doors.append(sim)
        return sim

    for name, kind in SHARED_DOORS:
        add_door(name, kind, "keyturn-r1")
    homes: list[tuple[str, SimDoor]] = []
    units: dict[str, SimDoor] = {}
    for number in range(doors - len(SHARED_DOORS)):
        unit = create_unit(session=session, property_id=prop.id, label=f"U{number + 1}")
        model = "keyturn-c2" if number % 4 == 3 else "keyturn-m"
        home = add_door(f"Unit {number + 1}", DoorKind.RESIDENCE, model, unit.id)
        # One residence lock in five has no network and syncs only through phones.
        home.relay_only = number % 5 == 2
        homes.append((unit.id, home))
        units[unit.label] = home

    def key(name: str, door_ids: list[str], windows: Sequence[dict[str, Any]] = ()) -> Key:
        return create_key(
            session=session,
            property_id=prop.id,
            name=name,
            door_ids=door_ids,
            windows=[Window.model_validate(window) for window in windows],
            may_share=False,
            provides_doorcodes=False,
        )

    shared_ids = [d.id for d in sim_doors[: len(SHARED_DOORS)]]
    building_key = key("Building", shared_ids)
    people: list[SimPerson] = []
    grants_by_person: dict[str, list[str]] = {}

    def add_person(role: Role, unit_id: str | None = None, by: str | None = None) -> SimPerson:
        number = len(people) + 1
        email = f"{role.value}-{number}@{EMAIL_DOMAIN}"
        person = people_service.add_person(
            session=session, display_name=f"{role.value} {number}", email=email, now=now
        )
        open_account(session=session, person_id=person.id, now=now)
        membership = people_service.add_role(
            session=session,
            property_id=prop.id,
            person_id=person.id,
            role=role,
            unit_id=unit_id,
            by=by,
        )
        sim = SimPerson(person.id, role, membership_id=membership.id, email=email)
        people.append(sim)
        return sim

    # The manager, whom nobody invites, places everyone else and gives them their keys.
    manager = add_person(Role.PROPERTY_MANAGER)

    def grant(person: SimPerson, key: Key, resident: bool, booker: str | None = None) -> None:
        row = new_grant(
            session=session,
            key=key,
            person_id=person.id,
            starts_at=now,
            ends_at=None,
            resident=resident,
            created_by=booker or manager.id,
            kind=GrantKind.STANDARD if booker is None else GrantKind.SERVICE_PROVIDER,
            now=now,
        )
        grants_by_person.setdefault(person.id, []).append(row.id)

    unit_keys = {home.id: key(home.name, [home.id]) for _, home in homes}
    for number in range(residents):
        unit_id, home = homes[number % len(homes)]
        resident = add_person(Role.RESIDENT, unit_id, by=manager.id)
        resident.home = home
        grant(resident, unit_keys[home.id], resident=True)
        grant(resident, building_key, resident=False)
    staff_key = key("Staff", [d.id for d in sim_doors])
    for _ in range(2):
        grant(add_person(Role.STAFF, by=manager.id), staff_key, resident=False)
    walker_home = homes[0][1]
    walker_key = key(
        "Dog walker",
        [shared_ids[0], walker_home.id],
        [
            {"weekday": day, "start": WALKER_HOURS[0].isoformat("minutes"), "end": "17:00"}
            for day in sorted(WALKER_WEEKDAYS)
        ],
    )
    walker_booker = next(p for p in people if p.home is walker_home)
    walker = add_person(Role.SERVICE_PROVIDER, by=walker_booker.id)
    grant(walker, walker_key, resident=False, booker=walker_booker.id)
    # Residents agree in the app before anything is collected, as New York City requires (R5).
    for resident in (p for p in people if p.role is Role.RESIDENT):
        consent.record_in_app(session=session, person=session.get_one(Person, resident.id), now=now)

    for person in people:
        if person.role is Role.PROPERTY_MANAGER:
            continue
        enrol_new_phone(session, person, now)
        code_doors = [shared_ids[0]] + ([person.home.id] if person.home is not None else [])
        for door_id in code_doors:
            issued = issue_personal_code(
                session=session,
                master_key=master_key,
                person_id=person.id,
                door_id=door_id,
                now=now,
                draw=rng.randrange,
            )
            truth = Truth("personal", person.id, frozenset({door_id}), now)
            truths.append(truth)
            person.code_at[door_id] = (issued.code, truth)
        wants_card = person.role is Role.STAFF or (
            person.role is Role.RESIDENT and rng.random() < 0.5
        )
        if wants_card:
            uid = f"{rng.getrandbits(56):014X}"
            activate_keycard(
                session=session, property_id=prop.id, person_id=person.id, card_uid=uid
            )
            # A card opens every door its holder has a grant for.
            own_door = [person.home.id] if person.home is not None else []
            staff = person.role is Role.STAFF
            doors_open = {d.id for d in sim_doors} if staff else {*shared_ids, *own_door}
            truth = Truth("card", person.id, frozenset(doors_open), now)
            truths.append(truth)
            person.card = (uid, truth)
    # The walker's codes follow the key's weekday hours.
    for _, truth in walker.code_at.values():
        truth.weekdays, truth.hours = WALKER_WEEKDAYS, WALKER_HOURS
    session.flush()

    for door in sim_doors:
        provision_lock(session, master_key, door, locks_dir, clock, now)
    building = SimBuilding(
        prop.id, tz, sim_doors, people, manager, walker, walker_home, grants_by_person, units
    )
    return building


def enrol_new_phone(session: Session, person: SimPerson, now: datetime) -> None:
    """A new phone for the person, enrolled through the credentials service as the app does."""
    phone = SigningKeyPair.generate()
    public_key = base64.urlsafe_b64encode(phone.public_bytes()).decode().rstrip("=")
    registration = enrol_phone(session=session, person_id=person.id, public_key=public_key, now=now)
    person.phone = phone
    person.phone_registered_at = registration.registered_at
    person.registration_id = registration.id


def provision_lock(
    session: Session,
    master_key: bytes,
    door: SimDoor,
    locks_dir: Path,
    clock: ManualClock,
    now: datetime,
) -> None:
    """A new lock for the door, provisioned through the cloud's real provisioning flow."""
    serial = len(door.retired_devices)
    data_dir = locks_dir / f"{door.id}-{serial}"
    data_dir.mkdir(parents=True)
    public = create_identity(data_dir)
    token = create_provisioning_token(
        session=session, door_id=door.id, model_name=door.model, now=now
    )
    config = provision_device(
        session=session,
        master_key=master_key,
        token=token,
        public_key=public.public_bytes(),
        model_name=door.model,
        now=now,
    )
    install_config(data_dir, config)
    door.lock = Lock.open(data_dir, clock)
    door.lock_dir = data_dir
    door.known_at = None
    door.synced_at = None
