"""Request and response bodies of guests, single-day, one-time and courier codes, couriers and
service providers.

A code appears in exactly one response, the one that issued it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from keyturn.cloud.access.credentials.schemas import CodeIssued
from keyturn.cloud.access.keys.schemas import Window, Windows
from keyturn.cloud.access.schemas import (
    EXAMPLE_CODE,
    DoorIds,
    LockStatusOut,
)
from keyturn.cloud.fields import (
    EXAMPLE_GRANT_ID,
    EXAMPLE_ID,
    EXAMPLE_KEY_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_TIME,
    Day,
    Email,
    Id,
    Instant,
    Name,
    example_config,
    strict_config,
)
from keyturn.cloud.models import GrantKind


class GuestInvite(BaseModel):
    """Invite a guest with a mobile key (A5): start at most a year ahead, optional end."""

    model_config = strict_config(
        {
            "email": "guest@example.org",
            "display_name": "Sam",
            "key_id": EXAMPLE_ID,
            "starts_at": "2026-03-06T18:00:00Z",
            "ends_at": "2026-03-08T12:00:00Z",
            "windows": [],
        }
    )

    email: Email
    display_name: Name
    key_id: Id
    starts_at: Instant
    ends_at: Instant | None = None
    windows: Windows = Field(
        default=[], description="Weekly windows for the guest; empty: the key's own schedule"
    )


class GuestOut(BaseModel):
    model_config = example_config(
        {
            "grant_id": EXAMPLE_GRANT_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "display_name": "Sam",
            "email": "guest@example.org",
            "key_id": EXAMPLE_KEY_ID,
            "starts_at": "2026-03-06T18:00:00Z",
            "ends_at": "2026-03-08T12:00:00Z",
            "revoked_at": None,
        }
    )

    grant_id: str
    person_id: str
    display_name: str
    email: str | None
    key_id: str
    starts_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None


class SingleDayCreate(BaseModel):
    """Codes valid on one local calendar day (A4), one per door asked for."""

    model_config = strict_config(
        {"local_date": "2026-03-07", "door_ids": [EXAMPLE_ID], "guest_label": "Aunt May"}
    )

    local_date: Day
    door_ids: Annotated[list[Id], Field(min_length=1, max_length=5)]
    guest_label: Name | None = None


class SingleDayIssued(BaseModel):
    model_config = example_config(
        {
            "local_date": "2026-03-07",
            "codes": [EXAMPLE_CODE],
            "note": "Valid at 4B door on 2026-03-07, midnight to midnight local time.",
        }
    )

    local_date: date
    codes: list[CodeIssued]
    note: str


class SingleDayOut(BaseModel):
    model_config = example_config(
        {
            "id": EXAMPLE_GRANT_ID,
            "door_id": EXAMPLE_ID,
            "local_date": "2026-03-07",
            "slot": 0,
            "guest_label": "Aunt May",
            "created_by": EXAMPLE_PERSON_ID,
            "created_at": EXAMPLE_TIME,
            "revoked_at": None,
            "locks": [],
        }
    )

    id: str
    door_id: str
    local_date: date
    slot: int
    guest_label: str | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    locks: list[LockStatusOut] = Field(description="Per-lock status of the revocation, if any")


class OneTimeCreate(BaseModel):
    """A short code that works for `valid_minutes` after its first use."""

    model_config = strict_config({"door_id": EXAMPLE_ID, "valid_minutes": 15})

    door_id: Id
    valid_minutes: Annotated[int, Field(ge=1, le=1440, strict=True)] = 15


class CourierCodesCreate(BaseModel):
    """Courier codes (A8): never for residence doors; one code per door, the same if free."""

    model_config = strict_config({"door_ids": [EXAMPLE_ID], "valid_minutes": 30})

    door_ids: DoorIds
    valid_minutes: Annotated[int, Field(ge=1, le=1440, strict=True)] = 30


class CodesIssued(BaseModel):
    model_config = example_config({"codes": [EXAMPLE_CODE]})

    codes: list[CodeIssued]


class VisitorCreate(BaseModel):
    """A courier or service provider with a key of their own, limited to chosen doors."""

    model_config = strict_config(
        {
            "email": "walker@example.org",
            "display_name": "Dog walker",
            "door_ids": [EXAMPLE_ID],
            "windows": [{"weekday": 1, "start": "12:00", "end": "13:00"}],
            "starts_at": "2026-03-02T00:00:00Z",
        }
    )

    email: Email
    display_name: Name
    door_ids: DoorIds
    windows: Windows = []
    starts_at: Instant | None = None
    ends_at: Instant | None = None


class VisitorOut(BaseModel):
    model_config = example_config(
        {
            "grant_id": EXAMPLE_GRANT_ID,
            "key_id": EXAMPLE_KEY_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "kind": "service_provider",
            "door_ids": [EXAMPLE_ID],
            "windows": [{"weekday": 1, "start": "12:00", "end": "13:00"}],
            "starts_at": EXAMPLE_TIME,
            "ends_at": None,
            "revoked_at": None,
        }
    )

    grant_id: str
    key_id: str
    person_id: str
    kind: GrantKind
    door_ids: list[str]
    windows: list[Window]
    starts_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None
