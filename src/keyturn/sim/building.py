"""The simulated building: people, keys, credentials and provisioned locks, created through
the cloud's own services and mirrored as ground truth for the oracle.

Everything random comes from one seeded generator, so a run can be repeated exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from keyturn.cloud.access.codes import issue_personal_code
from keyturn.cloud.db import new_id
from keyturn.cloud.devices.service import (
    create_provisioning_token,
    ensure_device_models,
    provision_device,
)
from keyturn.cloud.models import (
    Account,
    Door,
    Grant,
    GrantKind,
    Key,
    Keycard,
    MobileKeyRegistration,
    Person,
    Portfolio,
    Property,
    RoleMembership,
    Unit,
)
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.properties.service import give_authority, give_door_secret
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
    registration_id: str | None = None
    tokens: list[tuple[bytes, Truth]] = field(default_factory=list)


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
    prop = Property(
        id=new_id(),
        portfolio=Portfolio(name="Simulated portfolio"),
        name="Simulated building",
        time_zone=TIME_ZONE,
        jurisdiction="default",
    )
    give_authority(prop, master_key)
    session.add(prop)
    session.flush()
    ensure_device_models(session)

    sim_doors: list[SimDoor] = []

    def add_door(name: str, kind: DoorKind, model: str, unit: Unit | None = None) -> SimDoor:
        door = Door(id=new_id(), property=prop, unit=unit, name=name, kind=kind)
        give_door_secret(door, master_key)
        session.add(door)
        session.flush()
        sim = SimDoor(door.id, name, kind, model)
        sim_doors.append(sim)
        return sim

    for name, kind in SHARED_DOORS:
        add_door(name, kind, "keyturn-r1")
    homes = []
    for number in range(doors - len(SHARED_DOORS)):
        unit = Unit(id=new_id(), property=prop, label=f"U{number + 1}")
        session.add(unit)
        model = "keyturn-c2" if number % 4 == 3 else "keyturn-m"
        home = add_door(f"Unit {number + 1}", DoorKind.RESIDENCE, model, unit)
        # One residence lock in five has no network and syncs only through phones.
        home.relay_only = number % 5 == 2
        homes.append((unit, home))

    shared_ids = [d.id for d in sim_doors[: len(SHARED_DOORS)]]
    building_key = _key(session, prop.id, "Building", shared_ids)
    people: list[SimPerson] = []
    grants_by_person: dict[str, list[str]] = {}

    def add_person(role: Role, unit: Unit | None = None) -> SimPerson:
        person = Person(id=new_id(), display_name=f"{role.value} {len(people) + 1}")
        session.add(person)
        session.add(Account(person_id=person.id))
        session.add(
            RoleMembership(
                person=person,
                property_id=prop.id,
                role=role,
                unit_id=unit.id if unit is not None else None,
            )
        )
        sim = SimPerson(person.id, role)
        people.append(sim)
        return sim

    def grant(person: SimPerson, key: Key, resident: bool, by: str | None = None) -> Grant:
        row = Grant(
            id=new_id(),
            person_id=person.id,
            key=key,
            kind=GrantKind.STANDARD if by is None else GrantKind.SERVICE_PROVIDER,
            starts_at=now,
            resident=resident,
            created_by=by,
        )
        session.add(row)
        grants_by_person.setdefault(person.id, []).append(row.id)
        return row

    unit_keys = {home.id: _key(session, prop.id, home.name, [home.id]) for _, home in homes}
    for number in range(residents):
        unit, home = homes[number % len(homes)]
        resident = add_person(Role.RESIDENT, unit)
        resident.home = home
        grant(resident, unit_keys[home.id], resident=True)
        grant(resident, building_key, resident=False)
    manager = add_person(Role.PROPERTY_MANAGER)
    staff_key = _key(session, prop.id, "Staff", [d.id for d in sim_doors])
    for _ in range(2):
        grant(add_person(Role.STAFF), staff_key, resident=False)
    walker_home = homes[0][1]
    walker_key = _key(
        session,
        prop.id,
        "Dog walker",
        [shared_ids[0], walker_home.id],
        {
            "windows": [
                {"weekday": day, "start": WALKER_HOURS[0].isoformat("minutes"), "end": "17:00"}
                for day in sorted(WALKER_WEEKDAYS)
            ]
        },
    )
    walker = add_person(Role.SERVICE_PROVIDER)
    walker_booker = next(p for p in people if p.home is walker_home)
    grant(walker, walker_key, resident=False, by=walker_booker.id)
    session.flush()
    # Residents agree in the app before anything is collected, as New York City requires (R5).
    for resident in (p for p in people if p.role is Role.RESIDENT):
        consent.record_in_app(session, session.get_one(Person, resident.id), now)

    for person in people:
        if person.role is Role.PROPERTY_MANAGER:
            continue
        person.phone = SigningKeyPair.generate()
        registration = MobileKeyRegistration(
            person_id=person.id,
            phone_public_key=person.phone.public_bytes(),
            phone_key_id=person.phone.key_id,
        )
        session.add(registration)
        session.flush()
        person.registration_id = registration.id
        code_doors = [shared_ids[0]] + ([person.home.id] if person.home is not None else [])
        for door_id in code_doors:
            issued = issue_personal_code(
                session, master_key, person.id, door_id, now, draw=rng.randrange
            )
            truth = Truth("personal", person.id, frozenset({door_id}), now)
            truths.append(truth)
            person.code_at[door_id] = (issued.code, truth)
        wants_card = person.role is Role.STAFF or (
            person.role is Role.RESIDENT and rng.random() < 0.5
        )
        if wants_card:
            uid = f"{rng.getrandbits(56):014X}"
            session.add(Keycard(person_id=person.id, property_id=prop.id, card_uid=uid))
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
        prop.id, tz, sim_doors, people, manager, walker, walker_home, grants_by_person
    )
    return building


def _key(
    session: Session,
    property_id: str,
    name: str,
    door_ids: list[str],
    schedule: dict[str, object] | None = None,
) -> Key:
    doors = [session.get(Door, door_id) for door_id in door_ids]
    key = Key(
        id=new_id(),
        property_id=property_id,
        name=name,
        doors=[d for d in doors if d is not None],
        schedule_json=schedule or {},
    )
    session.add(key)
    return key


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
    token = create_provisioning_token(session, door.id, door.model, now)
    config = provision_device(session, master_key, token, public.public_bytes(), door.model, now)
    install_config(data_dir, config)
    door.lock = Lock.open(data_dir, clock)
    door.lock_dir = data_dir
    door.known_at = None
    door.synced_at = None
