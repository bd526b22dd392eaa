"""A property at a glance: its doors with their locks' health, and whether it is locked down.

The portal's overview page is drawn from `property_overview`; the lock health is
`devices.listing`'s, the same as `keyturn device list` and the API's health route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.alerts.service import Alert, open_alerts
from keyturn.cloud.devices.listing import DoorLock, doors_with_locks
from keyturn.cloud.models import Key, Property, RoleMembership, Unit
from keyturn.cloud.properties.service import visible_property_ids
from keyturn.rules.types import Role

# A lock not heard from for this long is shown as late.
LATE_SYNC_S = 6 * 3600
LOW_BATTERY_PCT = 20


@dataclass(frozen=True, slots=True)
class Overview:
    property_id: str
    name: str
    lockdown: bool
    lockdown_changed_at: datetime | None
    doors: list[DoorLock]
    residents: int
    units: int
    keys: int
    alerts: list[Alert]

    @property
    def locks(self) -> list[DoorLock]:
        return [door for door in self.doors if door.lock is not None and not door.lock.retired]

    @property
    def locks_behind(self) -> int:
        return sum(1 for door in self.locks if door.lock and door.lock.versions_behind > 0)

    @property
    def low_batteries(self) -> int:
        return sum(
            1
            for door in self.locks
            if door.lock
            and door.lock.battery_pct is not None
            and door.lock.battery_pct <= LOW_BATTERY_PCT
        )


def property_overview(
    *, session: Session, property_id: str, now: datetime, with_locks: bool
) -> Overview:
    """The property's doors (with lock health and open alerts when `with_locks`), lockdown
    and head counts."""
    prop = session.get_one(Property, property_id)
    doors = doors_with_locks(session=session, property_id=property_id, now=now, master_key=None)
    if not with_locks:
        doors = [
            DoorLock(door.door_id, door.door_name, door.door_kind, None, (), 0) for door in doors
        ]
    residents = session.scalar(
        select(func.count(func.distinct(RoleMembership.person_id))).where(
            RoleMembership.property_id == property_id,
            RoleMembership.role == Role.RESIDENT,
            RoleMembership.in_force(),
        )
    )
    units = session.scalar(select(func.count()).where(Unit.property_id == property_id))
    keys = session.scalar(select(func.count()).where(Key.property_id == property_id))
    return Overview(
        property_id=prop.id,
        name=prop.name,
        lockdown=prop.lockdown,
        lockdown_changed_at=prop.lockdown_changed_at,
        doors=doors,
        residents=residents or 0,
        units=units or 0,
        keys=keys or 0,
        alerts=open_alerts(session=session, property_id=property_id, now=now) if with_locks else [],
    )


@dataclass(frozen=True, slots=True)
class PropertyListed:
    property_id: str
    name: str
    time_zone: str
    roles: tuple[Role, ...]


def properties_listed(*, session: Session, person_id: str) -> list[PropertyListed]:
    """The properties where the person has a role (portfolio roles included), by name, each
    with the roles they hold there themselves (none: through the portfolio)."""
    rows = session.execute(
        select(Property.id, Property.name, Property.time_zone, RoleMembership.role)
        .outerjoin(
            RoleMembership,
            (RoleMembership.property_id == Property.id)
            & (RoleMembership.person_id == person_id)
            & RoleMembership.in_force(),
        )
        .where(Property.id.in_(visible_property_ids(session, person_id)))
        .order_by(Property.name, Property.id)
    ).all()
    listed: dict[str, PropertyListed] = {}
    for property_id, name, zone, role in rows:
        seen = listed.get(property_id)
        roles = (seen.roles if seen else ()) + ((role,) if role is not None else ())
        listed[property_id] = PropertyListed(property_id, name, zone, roles)
    return list(listed.values())
