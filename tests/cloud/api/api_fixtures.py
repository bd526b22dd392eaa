"""A building for the resource API tests: personas, doors, a resident key and bound locks.

Built on the auth tests' personas (one person per role at the first property) with a real
authority key and real door secrets, so codes and mobile keys can be checked end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from auth_fixtures import (
    MASTER_KEY,
    T0,
    Building,
    bearer,
    give_role,
    make_building,
    make_person,
    token_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.devices.service import (
    create_provisioning_token,
    current_access_list,
    provision_device,
)
from keyturn.cloud.models import Device, Door, Grant, Key, OutboxMessage, Property, Unit
from keyturn.cloud.properties.service import create_door, give_authority
from keyturn.crypto.keys import SigningKeyPair
from keyturn.protocol.messages import AccessList
from keyturn.rules.types import DoorKind, Role


@dataclass
class Site:
    """The first property of `Building`, with doors, a resident key and two locks."""

    building: Building
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
        return self.building.property_id

    @property
    def url(self) -> str:
        return f"/api/v1/properties/{self.building.property_id}"

    def person(self, persona: str) -> str:
        return self.building.people[persona]

    def auth(self, persona: str) -> dict[str, str]:
        return bearer(self.tokens[persona])


def make_site(db: Session) -> Site:
    building = make_building(db)
    prop = db.get_one(Property, building.property_id)
    give_authority(prop, MASTER_KEY)
    other_unit = Unit(property_id=prop.id, label="5C")
    db.add(other_unit)
    db.flush()

    def door(name: str, kind: DoorKind, unit_id: str | None = None) -> str:
        return create_door(
            session=db,
            master_key=MASTER_KEY,
            property_id=prop.id,
            name=name,
            kind=kind,
            unit_id=unit_id,
        ).id

    foreign_unit = Unit(property_id=building.other_property_id, label="1A")
    db.add(foreign_unit)
    db.flush()
    foreign_door = create_door(
        session=db,
        master_key=MASTER_KEY,
        property_id=building.other_property_id,
        name="Oak 1A",
        kind=DoorKind.RESIDENCE,
        unit_id=foreign_unit.id,
    )
    foreign_person = make_person(db, "oak-resident@example.org")
    give_role(
        db, foreign_person.id, building.other_property_id, Role.RESIDENT, unit_id=foreign_unit.id
    )
    entrance = door("Entrance", DoorKind.ENTRANCE)
    package_room = door("Package room", DoorKind.COMMON)
    home = door("4B door", DoorKind.RESIDENCE, building.unit_id)
    neighbour = door("5C door", DoorKind.RESIDENCE, other_unit.id)
    key = Key(
        property_id=prop.id,
        name="Residents 4B",
        may_share=True,
        provides_doorcodes=True,
        schedule_json={},
    )
    key.doors = [db.get_one(Door, entrance), db.get_one(Door, home)]
    db.add(key)
    db.flush()
    grant = Grant(
        person_id=building.people["resident"],
        key_id=key.id,
        starts_at=T0 - timedelta(days=30),
        resident=True,
        created_by=building.people["portfolio_manager"],
    )
    db.add(grant)
    db.flush()
    site = Site(
        building=building,
        entrance_id=entrance,
        package_room_id=package_room,
        home_id=home,
        neighbour_id=neighbour,
        other_unit_id=other_unit.id,
        resident_key_id=key.id,
        resident_grant_id=grant.id,
        entrance_lock_id=provision(db, entrance),
        home_lock_id=provision(db, home),
        foreign_door_id=foreign_door.id,
        foreign_person_id=foreign_person.id,
    )
    for persona, person_id in building.people.items():
        site.tokens[persona] = token_for(db, person_id)
    return site


def provision(db: Session, door_id: str, model: str = "keyturn-r1") -> str:
    """Enrol a lock at the door through the devices service, as an installer would."""
    token = create_provisioning_token(db, door_id, model, T0)
    phone = SigningKeyPair.generate()
    return provision_device(db, MASTER_KEY, token, phone.public_bytes(), model, T0).device_id


def sync(db: Session, device_id: str, now: datetime = T0) -> AccessList:
    """What a successful sync records: the lock applied its door's current list."""
    db.expire_all()
    device = db.get_one(Device, device_id)
    assert device.door_id is not None
    current = current_access_list(db, MASTER_KEY, device.door_id, now)
    device.applied_access_list_version = current.version
    device.last_sync_at = now
    db.commit()
    return current


def mails_to(db: Session, address: str) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)))
