"""Response bodies of the history routes and webhooks: one event as a reader sees it.

Only columns of events the visibility rule has already cleared are shown; credential ids,
grant ids and device sequence numbers stay inside the service.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol

import msgspec
from pydantic import BaseModel, Field
from pydantic.config import JsonDict

from keyturn.cloud.fields import example_config
from keyturn.rules.photos import can_view_photo
from keyturn.rules.types import CredentialType, DoorKind, Reason
from keyturn.rules.visibility import EventFacts, Viewer

_EVENT_EXAMPLE: JsonDict = {
    "id": "0b7c1e9a-5d1f-5c7e-9a39-1f3c2b8e4d10",
    "occurred_at": "2026-03-02T14:03:12Z",
    "door_id": "6a1f0e52-93c4-4f0e-8d4b-0c8f5e2b7a91",
    "door_kind": "entrance",
    "kind": "attempt",
    "credential_type": "mobile_key",
    "outcome": "granted",
    "reason": "granted",
    "subject_id": "c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f",
    "clock_uncertain": False,
    "has_photo": True,
}


class Outcome(StrEnum):
    """Whether the lock opened: `granted`, or `denied` for every refusal reason."""

    GRANTED = "granted"
    DENIED = "denied"


class EventOut(BaseModel):
    """One entry of a lock's journal, as far as the caller may see it."""

    model_config = example_config(_EVENT_EXAMPLE)

    id: str
    occurred_at: datetime = Field(description="The lock's time of the attempt, in UTC")
    door_id: str
    door_kind: DoorKind
    kind: str = Field(description='"attempt", or a door event such as "forced_open"')
    credential_type: CredentialType | None
    outcome: Outcome | None = Field(description="None for door events that are not attempts")
    reason: Reason | None
    subject_id: str | None = Field(description="The person who made the attempt, if known")
    clock_uncertain: bool = Field(description="The lock was unsure of its time (A9)")
    has_photo: bool = Field(description="A photo exists and this caller may fetch it (P4)")


class EventPage(BaseModel):
    """A page of events, newest first; pass `next_cursor` back as `cursor` for the next one."""

    model_config = example_config({"items": [_EVENT_EXAMPLE], "next_cursor": None})

    items: list[EventOut]
    next_cursor: str | None


class StoredEvent(Protocol):
    """The columns of a stored event that readers use: an Event, or a row of its columns."""

    @property
    def id(self) -> str: ...
    @property
    def property_id(self) -> str: ...
    @property
    def door_id(self) -> str: ...
    @property
    def door_kind(self) -> DoorKind: ...
    @property
    def kind(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def clock_uncertain(self) -> bool: ...
    @property
    def credential_type(self) -> CredentialType | None: ...
    @property
    def subject_id(self) -> str | None: ...
    @property
    def granted_by(self) -> str | None: ...
    @property
    def by_resident(self) -> bool: ...
    @property
    def reason(self) -> Reason | None: ...
    @property
    def photo_id(self) -> str | None: ...


class StoredRow(NamedTuple):
    """A StoredEvent as a page read returns it: the columns in this order, as a plain tuple
    (a database row's attributes cost ten times a tuple's)."""

    id: str
    property_id: str
    door_id: str
    door_kind: DoorKind
    kind: str
    occurred_at: datetime
    clock_uncertain: bool
    credential_type: CredentialType | None
    subject_id: str | None
    granted_by: str | None
    by_resident: bool
    reason: Reason | None
    photo_id: str | None


def event_facts(event: StoredEvent) -> EventFacts:
    """The columns of a stored event that the visibility and photo rules read."""
    return EventFacts(
        property_id=event.property_id,
        door_id=event.door_id,
        door_kind=event.door_kind,
        subject_id=event.subject_id,
        granted_by=event.granted_by,
        by_resident=event.by_resident,
        occurred_at=event.occurred_at,
    )


def event_fields(event: StoredEvent, viewer: Viewer) -> dict[str, object]:
    """The fields of EventOut for `viewer`; the caller has already cleared it with the V rules."""
    outcome = None
    if event.reason is not None:
        outcome = Outcome.GRANTED if event.reason == Reason.GRANTED else Outcome.DENIED
    photo = event.photo_id is not None and can_view_photo(viewer, event_facts(event), False)
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "door_id": event.door_id,
        "door_kind": event.door_kind,
        "kind": event.kind,
        "credential_type": event.credential_type,
        "outcome": outcome,
        "reason": event.reason,
        "subject_id": event.subject_id,
        "clock_uncertain": event.clock_uncertain,
        "has_photo": photo,
    }


def event_out(event: StoredEvent, viewer: Viewer) -> EventOut:
    """The event as `viewer` sees it; the caller has already cleared it with the V rules."""
    return EventOut.model_validate(event_fields(event, viewer))


def event_page_json(
    events: Iterable[StoredEvent], viewer: Viewer, next_cursor: str | None
) -> bytes:
    """The JSON body of an EventPage of these events as `viewer` sees them.

    The fields are EventPage's (the document and the contract test check the answers); they
    are encoded directly, as building a model per page costs more than the query.
    """
    items = [event_fields(event, viewer) for event in events]
    return _ENCODER.encode({"items": items, "next_cursor": next_cursor})


_ENCODER = msgspec.json.Encoder()
