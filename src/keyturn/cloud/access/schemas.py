"""Request and response bodies of keys, grants, credentials, guests, codes and lost phones.

Requests refuse unknown fields and wrong types; codes appear in exactly one response each,
the one that issued them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from keyturn.cloud.fields import (
    EXAMPLE_DEVICE_ID,
    EXAMPLE_GRANT_ID,
    EXAMPLE_ID,
    EXAMPLE_TIME,
    Id,
    example_config,
)

HourMinute = Annotated[str, StringConstraints(pattern=r"^\d\d:\d\d$")]


DoorIds = Annotated[list[Id], Field(min_length=1, max_length=50)]


EXAMPLE_WINDOW = {"weekday": 0, "start": "09:00", "end": "17:00"}


EXAMPLE_LOCK = {
    "device_id": EXAMPLE_DEVICE_ID,
    "door_id": EXAMPLE_ID,
    "door_name": "Entrance",
    "required_version": 42,
    "applied_version": 41,
    "applied": False,
    "last_sync_at": "2026-03-02T08:55:00Z",
}


EXAMPLE_CODE = {"id": EXAMPLE_GRANT_ID, "door_id": EXAMPLE_ID, "code": "4826153"}


class LockStatusOut(BaseModel):
    """Whether one lock has applied a change: it has once `applied_version` ≥ `required`."""

    model_config = example_config(EXAMPLE_LOCK)

    device_id: str
    door_id: str
    door_name: str
    required_version: int | None = Field(
        description="The first access-list version carrying the change; null until published"
    )
    applied_version: int
    applied: bool
    last_sync_at: datetime | None


class RevocationOut(BaseModel):
    """A recorded revocation, and which locks have applied it so far."""

    model_config = example_config(
        {
            "id": EXAMPLE_GRANT_ID,
            "revoked_at": EXAMPLE_TIME,
            "note": "Each lock drops it at its next sync; `locks` says which have.",
            "locks": [EXAMPLE_LOCK],
        }
    )

    id: str
    revoked_at: datetime
    note: str
    locks: list[LockStatusOut]
