"""Request and response bodies of the property, unit, door, device and lockdown routes.

Requests refuse unknown fields; every model carries an example for the OpenAPI description.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from keyturn.cloud.access.schemas import EXAMPLE_LOCK, LockStatusOut
from keyturn.cloud.devices.schemas import EXAMPLE_HEALTH, DeviceHealthOut
from keyturn.cloud.fields import (
    EXAMPLE_DEVICE_ID,
    EXAMPLE_ID,
    EXAMPLE_PORTFOLIO_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    EXAMPLE_UNIT_ID,
    Flag,
    Id,
    Name,
    example_config,
    strict_config,
)
from keyturn.cloud.models import MAX_DOORCODE_LENGTH, MIN_DOORCODE_LENGTH
from keyturn.rules.types import Capability, DoorKind

TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Jurisdiction = Annotated[str, StringConstraints(min_length=1, max_length=32)]
CodeLength = Annotated[int, Field(ge=MIN_DOORCODE_LENGTH, le=MAX_DOORCODE_LENGTH, strict=True)]
PROPERTY_EXAMPLE: dict[str, Any] = {
    "name": "12 Elm St",
    "time_zone": "America/New_York",
    "jurisdiction": "US-NY-NYC",
    "doorcode_length": 7,
}


EXAMPLE_LOCKOUT = {
    "max_failures": 5,
    "window_s": 600,
    "first_cooldown_s": 60,
    "max_cooldown_s": 3600,
}
EXAMPLE_DOOR = {
    "id": EXAMPLE_ID,
    "property_id": EXAMPLE_PROPERTY_ID,
    "unit_id": EXAMPLE_UNIT_ID,
    "name": "4B front door",
    "kind": "residence",
    "lockdown": False,
    "device_id": EXAMPLE_DEVICE_ID,
    "created_at": EXAMPLE_TIME,
}


class LockoutPolicyIn(BaseModel):
    """Wrong-code lockout (A7): failures within a window lock the keypad, doubling to a cap."""

    model_config = strict_config(EXAMPLE_LOCKOUT)

    max_failures: Annotated[int, Field(ge=1, le=100, strict=True)]
    window_s: Annotated[int, Field(ge=1, le=86_400, strict=True)]
    first_cooldown_s: Annotated[int, Field(ge=1, le=86_400, strict=True)]
    max_cooldown_s: Annotated[int, Field(ge=1, le=7 * 86_400, strict=True)]

    @model_validator(mode="after")
    def _cap_above_first(self) -> LockoutPolicyIn:
        if self.max_cooldown_s < self.first_cooldown_s:
            raise ValueError("max_cooldown_s must be at least first_cooldown_s")
        return self

    def columns(self) -> dict[str, int]:
        return {f"lockout_{name}": value for name, value in self.model_dump().items()}


class PropertyCreate(BaseModel):
    """A new building of the portfolio; it gets its own authority key pair."""

    model_config = strict_config(PROPERTY_EXAMPLE)

    name: Name
    time_zone: TimeZone = Field(description="IANA zone, e.g. America/New_York")
    jurisdiction: Jurisdiction = "default"
    doorcode_length: CodeLength = 7
    lockout: LockoutPolicyIn | None = None
    require_manager_totp: Flag = False


class PropertyUpdate(BaseModel):
    """Settings to change; omitted fields stay. Lock-held settings are fixed once locks bind."""

    model_config = strict_config({"doorcode_length": 8, "require_manager_totp": True})

    name: Name | None = None
    time_zone: TimeZone | None = None
    jurisdiction: Jurisdiction | None = None
    doorcode_length: CodeLength | None = None
    lockout: LockoutPolicyIn | None = None
    require_manager_totp: Flag | None = None

    def columns(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True, exclude_none=True, exclude={"lockout"})
        if self.lockout is not None:
            changes.update(self.lockout.columns())
        return changes


class LockoutPolicyOut(BaseModel):
    model_config = example_config(EXAMPLE_LOCKOUT)

    max_failures: int
    window_s: int
    first_cooldown_s: int
    max_cooldown_s: int


class PropertyOut(BaseModel):
    model_config = example_config(
        {
            "id": EXAMPLE_PROPERTY_ID,
            "portfolio_id": EXAMPLE_PORTFOLIO_ID,
            **PROPERTY_EXAMPLE,
            "lockout": EXAMPLE_LOCKOUT,
            "require_manager_totp": False,
            "lockdown": False,
            "created_at": EXAMPLE_TIME,
        }
    )

    id: str
    portfolio_id: str
    name: str
    time_zone: str
    jurisdiction: str
    doorcode_length: int
    lockout: LockoutPolicyOut
    require_manager_totp: bool
    lockdown: bool
    created_at: datetime


class UnitCreate(BaseModel):
    model_config = strict_config({"label": "4B"})

    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class UnitOut(BaseModel):
    model_config = example_config(
        {
            "id": EXAMPLE_UNIT_ID,
            "property_id": EXAMPLE_PROPERTY_ID,
            "label": "4B",
            "created_at": EXAMPLE_TIME,
        }
    )

    id: str
    property_id: str
    label: str
    created_at: datetime


class DoorCreate(BaseModel):
    """A door; residence doors usually name their unit."""

    model_config = strict_config({"name": "4B front door", "kind": "residence", "unit_id": None})

    name: Name
    kind: DoorKind
    unit_id: Id | None = None


class DoorUpdate(BaseModel):
    """Fields to change; `kind` cannot change while a lock is bound (409 door-kind-locked)."""

    model_config = strict_config({"kind": "common"})

    name: Name | None = None
    kind: DoorKind | None = None
    unit_id: Id | None = None


class DoorOut(BaseModel):
    model_config = example_config(EXAMPLE_DOOR)

    id: str
    property_id: str
    unit_id: str | None
    name: str
    kind: DoorKind
    lockdown: bool
    device_id: str | None = Field(description="The live lock bound to the door, if any")
    created_at: datetime


class DeviceOut(DeviceHealthOut):
    """A lock and its health: applied versus current access-list version, battery, firmware."""

    model_config = example_config(
        {**EXAMPLE_HEALTH, "capabilities": ["keypad", "ble", "mechanical_key"]}
    )

    capabilities: list[Capability] = Field(
        description="What the model has: camera, keypad, card reader, BLE, mechanical key"
    )


class ProvisioningTokenCreate(BaseModel):
    model_config = strict_config({"model": "keyturn-r1"})

    model: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ProvisioningTokenOut(BaseModel):
    model_config = example_config(
        {
            "door_id": EXAMPLE_ID,
            "model": "keyturn-r1",
            "token": "pt_Qm9vdHN0cmFwIHRva2VuIGZvciBvbmUgbG9jayBvbmx5",
            "expires_at": "2026-03-03T09:00:00Z",
        }
    )

    door_id: str
    model: str
    token: str = Field(description="Shown only in this response; enrols one lock within 24 h")
    expires_at: datetime


class LockdownOut(BaseModel):
    """Lockdown state of a property or door, and which locks have applied the last change."""

    model_config = example_config(
        {
            "property_id": EXAMPLE_PROPERTY_ID,
            "door_id": None,
            "lockdown": True,
            "changed_at": EXAMPLE_TIME,
            "note": "Each lock applies the change at its next sync; `locks` says which have.",
            "locks": [EXAMPLE_LOCK],
        }
    )

    property_id: str
    door_id: str | None
    lockdown: bool
    changed_at: datetime | None
    note: str
    locks: list[LockStatusOut]
