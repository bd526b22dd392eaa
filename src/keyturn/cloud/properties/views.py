"""HTTP routes for properties, units, doors, their locks and lockdown, under /api/v1.

Routes are thin: each checks its action through `requires`, calls the service, commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from sqlalchemy.orm import Session

from keyturn.cloud.access.answers import locks_out
from keyturn.cloud.access.rollout import PENDING_NOTE
from keyturn.cloud.auth.deps import Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.devices import service as devices
from keyturn.cloud.models import Device, Door, Property, Unit
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.cloud.properties import lockdown, service
from keyturn.cloud.properties.schemas import (
    DeviceOut,
    DoorCreate,
    DoorOut,
    DoorUpdate,
    LockdownOut,
    LockoutPolicyOut,
    PropertyCreate,
    PropertyOut,
    PropertyUpdate,
    ProvisioningTokenCreate,
    ProvisioningTokenOut,
    UnitCreate,
    UnitOut,
)

router = APIRouter(prefix="/api/v1", tags=["properties"], responses=GUARDED)
NAME_IN_USE = problem_responses(409, meaning={409: "The name is in use at this property"})


def _portfolio_property(session: Session, params: Mapping[str, str]) -> str | None:
    return service.first_property_of_portfolio(session, params.get("portfolio_id"))


def property_out(prop: Property) -> PropertyOut:
    return PropertyOut(
        id=prop.id,
        portfolio_id=prop.portfolio_id,
        name=prop.name,
        time_zone=prop.time_zone,
        jurisdiction=prop.jurisdiction,
        doorcode_length=prop.doorcode_length,
        lockout=LockoutPolicyOut(
            max_failures=prop.lockout_max_failures,
            window_s=prop.lockout_window_s,
            first_cooldown_s=prop.lockout_first_cooldown_s,
            max_cooldown_s=prop.lockout_max_cooldown_s,
        ),
        require_manager_totp=prop.require_manager_totp,
        lockdown=prop.lockdown,
        created_at=prop.created_at,
    )


def door_out(door: Door) -> DoorOut:
    device = door.device
    live = device is not None and device.retired_at is None
    return DoorOut(
        id=door.id,
        property_id=door.property_id,
        unit_id=door.unit_id,
        name=door.name,
        kind=door.kind,
        lockdown=door.lockdown,
        device_id=device.id if live and device is not None else None,
        created_at=door.created_at,
    )


def _unit_out(unit: Unit) -> UnitOut:
    return UnitOut.model_validate(unit, from_attributes=True)


def _lockdown_out(state: lockdown.LockdownState) -> LockdownOut:
    return LockdownOut(
        property_id=state.property_id,
        door_id=state.door_id,
        lockdown=state.lockdown,
        changed_at=state.changed_at,
        note=PENDING_NOTE,
        locks=locks_out(state.locks),
    )


# Properties


@router.get("/properties", response_model=Page[PropertyOut])
def list_properties(
    principal: Annotated[Principal, requires(Action.ACCOUNT_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[PropertyOut]:
    """The properties where the caller has a role, portfolio roles included."""
    query = service.properties_of(session=db, person_id=principal.person_id)
    return paged(db, query, Property.id, cursor, limit, property_out)


@router.post("/portfolios/{portfolio_id}/properties", response_model=PropertyOut, status_code=201)
def create_property(
    portfolio_id: str,
    body: PropertyCreate,
    _principal: Annotated[
        Principal, requires(Action.PORTFOLIO_MANAGE, property_from=_portfolio_property)
    ],
    db: Db,
    master_key: MasterKey,
) -> PropertyOut:
    """Add a building to the portfolio (portfolio managers); it gets its own authority key."""
    prop = service.create_property(
        session=db, master_key=master_key, portfolio_id=portfolio_id, settings=body
    )
    db.commit()
    return property_out(prop)


@router.get("/properties/{property_id}", response_model=PropertyOut)
def read_property(
    property_id: str, _principal: Annotated[Principal, requires(Action.PROPERTY_READ)], db: Db
) -> PropertyOut:
    """The property's settings."""
    return property_out(db.get_one(Property, property_id))


@router.patch(
    "/properties/{property_id}",
    response_model=PropertyOut,
    responses=problem_responses(
        409, meaning={409: "Time zone, doorcode length and lockout are fixed while locks are bound"}
    ),
)
def update_property(
    property_id: str,
    body: PropertyUpdate,
    _principal: Annotated[Principal, requires(Action.PROPERTY_MANAGE)],
    db: Db,
) -> PropertyOut:
    """Change settings; time zone, code length and lockout are fixed while locks are bound."""
    prop = service.update_property(session=db, property_id=property_id, changes=body)
    db.commit()
    return property_out(prop)


# Units


@router.get("/properties/{property_id}/units", response_model=Page[UnitOut])
def list_units(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[UnitOut]:
    """The property's units."""
    return paged(db, service.units_of(property_id=property_id), Unit.id, cursor, limit, _unit_out)


@router.post(
    "/properties/{property_id}/units",
    response_model=UnitOut,
    status_code=201,
    responses=problem_responses(409, meaning={409: "The label is in use at this property"}),
)
def create_unit(
    property_id: str,
    body: UnitCreate,
    _principal: Annotated[Principal, requires(Action.PROPERTY_MANAGE)],
    db: Db,
) -> UnitOut:
    """Add a unit; labels are unique within the property (409 otherwise)."""
    unit = service.create_unit(session=db, property_id=property_id, label=body.label)
    db.commit()
    return _unit_out(unit)


@router.get("/properties/{property_id}/units/{unit_id}", response_model=UnitOut)
def read_unit(
    property_id: str,
    unit_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_READ)],
    db: Db,
) -> UnitOut:
    """One unit."""
    return _unit_out(service.in_property(db, Unit, unit_id, property_id))


# Doors


@router.get("/properties/{property_id}/doors", response_model=Page[DoorOut])
def list_doors(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[DoorOut]:
    """The property's doors with their kind and bound lock."""
    return paged(db, service.doors_of(property_id=property_id), Door.id, cursor, limit, door_out)


@router.post(
    "/properties/{property_id}/doors",
    response_model=DoorOut,
    status_code=201,
    responses=NAME_IN_USE,
)
def create_door(
    property_id: str,
    body: DoorCreate,
    _principal: Annotated[Principal, requires(Action.PROPERTY_MANAGE)],
    db: Db,
    master_key: MasterKey,
) -> DoorOut:
    """Add a door; it gets its own secret for doorcode MACs and single-day codes."""
    door = service.create_door(
        session=db,
        master_key=master_key,
        property_id=property_id,
        name=body.name,
        kind=body.kind,
        unit_id=body.unit_id,
    )
    db.commit()
    return door_out(door)


@router.get("/properties/{property_id}/doors/{door_id}", response_model=DoorOut)
def read_door(
    property_id: str,
    door_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_READ)],
    db: Db,
) -> DoorOut:
    """One door."""
    return door_out(service.in_property(db, Door, door_id, property_id))


@router.patch(
    "/properties/{property_id}/doors/{door_id}",
    response_model=DoorOut,
    responses=problem_responses(
        409, meaning={409: "The kind cannot change while a lock is bound, or the name is in use"}
    ),
)
def update_door(
    property_id: str,
    door_id: str,
    body: DoorUpdate,
    _principal: Annotated[Principal, requires(Action.PROPERTY_MANAGE)],
    db: Db,
) -> DoorOut:
    """Rename a door, move it to a unit, or change its kind while no lock is bound."""
    door = service.update_door(session=db, property_id=property_id, door_id=door_id, changes=body)
    db.commit()
    return door_out(door)


# Locks


def _device_out(db: Session, device: Device, now: datetime) -> DeviceOut:
    health = devices.device_health(db, device.id, now)
    fields = {name: getattr(health, name) for name in devices.DeviceHealth.__slots__}
    return DeviceOut(**fields, capabilities=device.model.capabilities)


@router.get("/properties/{property_id}/devices", response_model=Page[DeviceOut])
def list_devices(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.DEVICES_READ)],
    db: Db,
    now: Now,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[DeviceOut]:
    """The property's locks with their health, against each door's newest published list."""
    query = devices.devices_at(property_id=property_id)
    return paged(db, query, Device.id, cursor, limit, lambda d: _device_out(db, d, now))


@router.post(
    "/properties/{property_id}/doors/{door_id}/provisioning-tokens",
    response_model=ProvisioningTokenOut,
    status_code=201,
)
def create_provisioning_token(
    property_id: str,
    door_id: str,
    body: ProvisioningTokenCreate,
    _principal: Annotated[Principal, requires(Action.DEVICES_MANAGE)],
    db: Db,
    now: Now,
) -> ProvisioningTokenOut:
    """A one-time token that enrols one lock of the model at this door within 24 hours."""
    token = devices.door_provisioning_token(
        session=db, property_id=property_id, door_id=door_id, model=body.model, now=now
    )
    db.commit()
    return ProvisioningTokenOut(
        door_id=door_id, model=body.model, token=token, expires_at=now + devices.TOKEN_LIFETIME
    )


# Lockdown


def _set_property_lockdown(
    db: Session, master_key: bytes, property_id: str, on: bool, now: datetime
) -> LockdownOut:
    state = lockdown.set_property_lockdown(
        session=db, master_key=master_key, property_id=property_id, on=on, now=now
    )
    db.commit()
    return _lockdown_out(state)


def _set_door_lockdown(
    db: Session, master_key: bytes, property_id: str, door_id: str, on: bool, now: datetime
) -> LockdownOut:
    state = lockdown.set_door_lockdown(
        session=db,
        master_key=master_key,
        property_id=property_id,
        door_id=door_id,
        on=on,
        now=now,
    )
    db.commit()
    return _lockdown_out(state)


@router.get("/properties/{property_id}/lockdown", response_model=LockdownOut)
def read_property_lockdown(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_LOCKDOWN)],
    db: Db,
) -> LockdownOut:
    """Whether the property is locked down, and which locks have applied the last change."""
    return _lockdown_out(lockdown.property_lockdown(session=db, property_id=property_id))


@router.put("/properties/{property_id}/lockdown", response_model=LockdownOut)
def start_property_lockdown(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_LOCKDOWN)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> LockdownOut:
    """Lock down every door: each lock refuses all but the mechanical key from its next sync."""
    return _set_property_lockdown(db, master_key, property_id, True, now)


@router.delete("/properties/{property_id}/lockdown", response_model=LockdownOut)
def end_property_lockdown(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_LOCKDOWN)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> LockdownOut:
    """Lift the lockdown; each lock opens again for valid credentials from its next sync."""
    return _set_property_lockdown(db, master_key, property_id, False, now)


@router.get("/properties/{property_id}/doors/{door_id}/lockdown", response_model=LockdownOut)
def read_door_lockdown(
    property_id: str,
    door_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_LOCKDOWN)],
    db: Db,
) -> LockdownOut:
    """Whether this door is locked down on its own, and whether its lock has applied it."""
    return _lockdown_out(
        lockdown.door_lockdown(session=db, property_id=property_id, door_id=door_id)
    )


@router.put("/properties/{property_id}/doors/{door_id}/lockdown", response_model=LockdownOut)
def start_door_lockdown(
    property_id: str,
    door_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_LOCKDOWN)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> LockdownOut:
    """Lock down one door from its lock's next sync."""
    return _set_door_lockdown(db, master_key, property_id, door_id, True, now)


@router.delete("/properties/{property_id}/doors/{door_id}/lockdown", response_model=LockdownOut)
def end_door_lockdown(
    property_id: str,
    door_id: str,
    _principal: Annotated[Principal, requires(Action.PROPERTY_LOCKDOWN)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> LockdownOut:
    """Lift one door's own lockdown from its lock's next sync."""
    return _set_door_lockdown(db, master_key, property_id, door_id, False, now)
