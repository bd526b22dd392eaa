"""Request and response bodies of the residency routes: move in, change the lease, move out,
list.

Requests refuse unknown fields; the move-out answer names every door and lock it reached.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from keyturn.cloud.access.schemas import EXAMPLE_LOCK, LockStatusOut
from keyturn.cloud.fields import (
    EXAMPLE_ID,
    EXAMPLE_MEMBERSHIP_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    Email,
    Id,
    Instant,
    Name,
    example_config,
    strict_config,
)
from keyturn.cloud.people.residency.service import ResidencyState

EXAMPLE_START = "2026-03-01T00:00:00Z"
EXAMPLE_END = "2027-02-28T23:00:00Z"


class MoveIn(BaseModel):
    """A person moving into a unit: a person of this portfolio by id, or anyone by email
    (found, or added with the name given)."""

    model_config = strict_config(
        {"person_id": EXAMPLE_PERSON_ID, "unit_id": EXAMPLE_ID, "starts_at": EXAMPLE_START}
    )

    person_id: Id | None = None
    email: Email | None = None
    display_name: Name | None = None
    unit_id: Id
    starts_at: Instant
    ends_at: Instant | None = None

    @model_validator(mode="after")
    def _one_person(self) -> MoveIn:
        if (self.person_id is None) == (self.email is None):
            raise ValueError("give either person_id or email (with display_name)")
        if self.email is not None and self.display_name is None:
            raise ValueError("a person given by email needs a display_name")
        return self


class LeaseChange(BaseModel):
    """The residency's new dates; an end already past moves the resident out now."""

    model_config = strict_config({"starts_at": EXAMPLE_START, "ends_at": EXAMPLE_END})

    starts_at: Instant
    ends_at: Instant | None = None


class MoveOutRequest(BaseModel):
    """When the resident moves out: later than now schedules it; absent or past: now."""

    model_config = strict_config({"at": EXAMPLE_END})

    at: Instant | None = None


EXAMPLE_RESIDENCY = {
    "id": EXAMPLE_MEMBERSHIP_ID,
    "person_id": EXAMPLE_PERSON_ID,
    "display_name": "Ada Park",
    "email": "ada@example.org",
    "property_id": EXAMPLE_PROPERTY_ID,
    "unit_id": EXAMPLE_ID,
    "unit_label": "4B",
    "starts_at": EXAMPLE_START,
    "ends_at": EXAMPLE_END,
    "ended_at": None,
    "state": "scheduled_move_out",
    "created_at": EXAMPLE_TIME,
}


class ResidencyOut(BaseModel):
    model_config = example_config(EXAMPLE_RESIDENCY)

    id: str
    person_id: str
    display_name: str
    email: str | None
    property_id: str
    unit_id: str
    unit_label: str
    starts_at: datetime | None
    ends_at: datetime | None
    ended_at: datetime | None
    state: ResidencyState
    created_at: datetime


class RevokedOut(BaseModel):
    """The ids of what the move-out revoked, per kind."""

    grants: list[str] = Field(description="The person's own grants")
    shared_grants: list[str] = Field(
        description="Guest, service-provider and courier grants the person had made"
    )
    doorcodes: list[str]
    keycards: list[str]
    phones: list[str] = Field(description="Phone registrations that now serve nothing anywhere")
    single_day_codes: list[str]
    one_time_codes: list[str]


class MoveOutOut(BaseModel):
    """A move-out: scheduled (nothing revoked yet) or done, with what it revoked and how far
    each lock has got."""

    model_config = example_config(
        {
            "membership_id": EXAMPLE_MEMBERSHIP_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "unit_id": EXAMPLE_ID,
            "ends_at": EXAMPLE_TIME,
            "scheduled": False,
            "revoked": {
                "grants": [EXAMPLE_ID],
                "shared_grants": [],
                "doorcodes": [EXAMPLE_ID],
                "keycards": [],
                "phones": [],
                "single_day_codes": [],
                "one_time_codes": [],
            },
            "note": "Locks work offline: ...",
            "locks": [EXAMPLE_LOCK],
        }
    )

    membership_id: str
    person_id: str
    unit_id: str
    ends_at: datetime
    scheduled: bool
    revoked: RevokedOut
    note: str
    locks: list[LockStatusOut]
