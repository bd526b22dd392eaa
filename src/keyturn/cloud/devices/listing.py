"""Every door of a property with the lock bound to it and that lock's health, for
`keyturn device list` and the portal's doors-and-locks page.

A lock's health is `service.device_health`'s, the same as the API's health route; this module
only adds the door, the model's capabilities and the lock's recorded log gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.devices.service import BUILTIN_MODELS, DeviceHealth, device_health
from keyturn.cloud.models import Device, DeviceModel, Door, LogGap
from keyturn.cloud.properties.lockdown import LockdownState, door_lockdown, property_lockdown


@dataclass(frozen=True, slots=True)
class DoorLock:
    """A door and, when a lock is bound to it, that lock's health."""

    door_id: str
    door_name: str
    door_kind: str
    lock: DeviceHealth | None
    capabilities: tuple[str, ...]
    log_gap_count: int


def doors_with_locks(
    *, session: Session, property_id: str, now: datetime, master_key: bytes | None
) -> list[DoorLock]:
    """The property's doors by name, each with its bound lock's health or none.

    With the master key, a change not yet published counts as a newer access list (see
    `device_health`); without it the newest published list is compared.
    """
    doors = session.execute(
        select(Door.id, Door.name, Door.kind, Device.id, DeviceModel.capabilities)
        .outerjoin(Device, Device.door_id == Door.id)
        .outerjoin(DeviceModel, DeviceModel.id == Device.model_id)
        .where(Door.property_id == property_id)
        .order_by(Door.name, Door.id)
    ).all()
    gaps = {
        device_id: count
        for device_id, count in session.execute(
            select(LogGap.device_id, func.count())
            .join(Device, Device.id == LogGap.device_id)
            .where(Device.property_id == property_id)
            .group_by(LogGap.device_id)
        )
    }
    return [
        DoorLock(
            door_id=door_id,
            door_name=name,
            door_kind=str(kind),
            lock=None
            if device_id is None
            else device_health(session, device_id, now, master_key=master_key),
            capabilities=tuple(capabilities or ()),
            log_gap_count=gaps.get(device_id, 0) if device_id is not None else 0,
        )
        for door_id, name, kind, device_id, capabilities in doors
    ]


@dataclass(frozen=True, slots=True)
class DevicesShown:
    """The portal's doors-and-locks page: each door with its lock, and where lockdown stands."""

    doors: list[DoorLock]
    lockdown: LockdownState
    door_lockdowns: dict[str, LockdownState]
    models: list[str]


def devices_shown(
    *, session: Session, property_id: str, now: datetime, master_key: bytes | None
) -> DevicesShown:
    """`doors_with_locks`, the property's lockdown and each door's own, and the lock models
    a lock may be enrolled as."""
    doors = doors_with_locks(
        session=session, property_id=property_id, now=now, master_key=master_key
    )
    known = set(session.scalars(select(DeviceModel.name))) | set(BUILTIN_MODELS)
    return DevicesShown(
        doors=doors,
        lockdown=property_lockdown(session=session, property_id=property_id),
        door_lockdowns={
            door.door_id: door_lockdown(
                session=session, property_id=property_id, door_id=door.door_id
            )
            for door in doors
        },
        models=sorted(known),
    )
