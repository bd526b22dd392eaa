"""The JSON bodies of the devices routes: the provisioning request and a lock's health.

The DoorConfig answer and the sync frames are msgpack and sealed bytes, not JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from keyturn.cloud.fields import EXAMPLE_DEVICE_ID, EXAMPLE_ID, example_config


class ProvisionRequest(BaseModel):
    """What a lock sends once to enrol: the installer's token, its public key and, optionally,
    its model (the token already names the model; a model that differs is refused)."""

    model_config = example_config(
        {
            "token": "pt_Qm9vdHN0cmFwIHRva2VuIGZvciBvbmUgbG9jayBvbmx5",
            "public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "model": "keyturn-r1",
        }
    )

    token: str = Field(min_length=1, max_length=200)
    public_key: str = Field(description="the lock's raw Ed25519 public key, base64url")
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a lock model, e.g. keyturn-r1; optional, as the token names the model, "
        "but refused if it differs from the token's",
    )


EXAMPLE_HEALTH: dict[str, Any] = {
    "device_id": EXAMPLE_DEVICE_ID,
    "door_id": EXAMPLE_ID,
    "model": "keyturn-r1",
    "retired": False,
    "applied_access_list_version": 41,
    "current_access_list_version": 42,
    "versions_behind": 1,
    "last_sync_at": "2026-03-02T08:55:00Z",
    "seconds_since_sync": 300.0,
    "battery_pct": 87,
    "firmware_version": 3,
    "clock_drift_s": 0.4,
    "stored_through_seq": 1287,
}


class DeviceHealthOut(BaseModel):
    """How current and how well a lock is: the service's DeviceHealth as JSON."""

    model_config = example_config(EXAMPLE_HEALTH)

    device_id: str
    door_id: str | None
    model: str
    retired: bool
    applied_access_list_version: int
    current_access_list_version: int
    versions_behind: int
    last_sync_at: datetime | None
    seconds_since_sync: float | None
    battery_pct: int | None
    firmware_version: int
    clock_drift_s: float | None
    stored_through_seq: int
