"""Request and response bodies of keys and grants.

Requests refuse unknown fields and wrong types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from keyturn.cloud.access.schemas import (
    EXAMPLE_WINDOW,
    DoorIds,
    HourMinute,
)
from keyturn.cloud.fields import (
    EXAMPLE_GRANT_ID,
    EXAMPLE_ID,
    EXAMPLE_KEY_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    Flag,
    Id,
    Instant,
    Name,
    example_config,
    strict_config,
)
from keyturn.cloud.models import GrantKind


class Window(BaseModel):
    """A weekly window in the property's local time; weekday 0 is Monday, end may be 24:00."""

    model_config = strict_config(EXAMPLE_WINDOW)

    weekday: Annotated[int, Field(ge=0, le=6, strict=True)]
    start: HourMinute
    end: HourMinute


Windows = Annotated[list[Window], Field(max_length=50)]


class KeyCreate(BaseModel):
    """A key: doors plus a weekly schedule (no windows: any time) and its sharing flags;
    `unit_id` makes it the key a move-in to that unit grants."""

    model_config = strict_config(
        {
            "name": "Residents 4B",
            "door_ids": [EXAMPLE_ID],
            "windows": [],
            "may_share": True,
            "provides_doorcodes": True,
        }
    )

    name: Name
    door_ids: DoorIds
    windows: Windows = []
    may_share: Flag = False
    provides_doorcodes: Flag = False
    unit_id: Id | None = None


class KeyUpdate(BaseModel):
    model_config = strict_config({"windows": [EXAMPLE_WINDOW], "may_share": False})

    name: Name | None = None
    door_ids: DoorIds | None = None
    windows: Windows | None = None
    may_share: Flag | None = None
    provides_doorcodes: Flag | None = None


class KeyOut(BaseModel):
    model_config = example_config(
        {
            "id": EXAMPLE_KEY_ID,
            "property_id": EXAMPLE_PROPERTY_ID,
            "name": "Residents 4B",
            "door_ids": [EXAMPLE_ID],
            "windows": [EXAMPLE_WINDOW],
            "may_share": True,
            "provides_doorcodes": True,
            "created_at": EXAMPLE_TIME,
        }
    )

    id: str
    property_id: str
    name: str
    door_ids: list[str]
    windows: list[Window]
    may_share: Flag
    provides_doorcodes: Flag
    unit_id: str | None = None
    created_at: datetime


class GrantCreate(BaseModel):
    """A key given to a person from `starts_at` (default now) to an optional `ends_at`.

    `resident` gives resident status at the key's residence doors: their history from the
    start on (V2). It is never given to oneself, and an earlier start becomes now.
    """

    model_config = strict_config(
        {"person_id": EXAMPLE_ID, "starts_at": "2026-03-02T09:00:00Z", "resident": True}
    )

    person_id: Id
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    resident: Flag = False


class GrantOut(BaseModel):
    model_config = example_config(
        {
            "id": EXAMPLE_GRANT_ID,
            "key_id": EXAMPLE_KEY_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "kind": "standard",
            "starts_at": EXAMPLE_TIME,
            "ends_at": None,
            "resident": True,
            "created_by": EXAMPLE_ID,
            "revoked_at": None,
        }
    )

    id: str
    key_id: str
    person_id: str
    kind: GrantKind
    starts_at: datetime
    ends_at: datetime | None
    resident: Flag
    created_by: str | None
    revoked_at: datetime | None
