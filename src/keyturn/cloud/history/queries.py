"""Reading access history: filters, newest-first cursor pages and CSV export.

Every read starts from `visible_events`, the one SQL form of the visibility rule, so no
caller can list an event its viewer may not see.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from keyturn.cloud.db import utcnow
from keyturn.cloud.history.models import Event
from keyturn.cloud.history.schemas import StoredEvent
from keyturn.cloud.history.visibility import visible_events
from keyturn.cloud.privacy.policies import shown_events
from keyturn.errors import UserError
from keyturn.rules.types import CredentialType
from keyturn.rules.visibility import Viewer

MAX_PAGE = 500
_EVENT_COLUMNS = tuple(Event.__table__.columns)
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "door_id",
    "door_kind",
    "subject_id",
    "credential_type",
    "reason",
    "clock_uncertain",
)


class BadCursor(UserError):
    """A pagination cursor that this service did not issue."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    property_id: str | None = None
    door_id: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    granted: bool | None = None
    credential_type: CredentialType | None = None


@dataclass(frozen=True, slots=True)
class Page:
    events: Sequence[StoredEvent]
    next_cursor: str | None


def encode_cursor(event: StoredEvent) -> str:
    raw = json.dumps([event.occurred_at.isoformat(), event.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred, event_id = json.loads(raw)
        moment = datetime.fromisoformat(occurred)
    except (ValueError, TypeError) as exc:
        raise BadCursor("the cursor is not one this service issued") from exc
    if moment.tzinfo is None or not isinstance(event_id, str):
        raise BadCursor("the cursor is not one this service issued")
    return moment, event_id


def list_events(
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    *,
    cursor: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> Page:
    """One page of the events `viewer` may see, newest first, after `cursor`.

    Events past a retention that says nothing older is shown (R2) are left out as of `now`.
    """
    limit = max(1, min(limit, MAX_PAGE))
    query = visible_events(viewer)
    conditions = [shown_events(session, now or utcnow(), filters.property_id)]
    if filters.property_id is not None:
        conditions.append(Event.property_id == filters.property_id)
    if filters.door_id is not None:
        conditions.append(Event.door_id == filters.door_id)
    if filters.subject_id is not None:
        conditions.append(Event.subject_id == filters.subject_id)
    if filters.since is not None:
        conditions.append(Event.occurred_at >= filters.since)
    if filters.until is not None:
        conditions.append(Event.occurred_at < filters.until)
    if filters.credential_type is not None:
        conditions.append(Event.credential_type == filters.credential_type)
    if filters.granted is not None:
        granted = Event.reason == "granted"
        conditions.append(granted if filters.granted else ~granted)
    if cursor is not None:
        at, event_id = decode_cursor(cursor)
        conditions.append(
            or_(Event.occurred_at < at, and_(Event.occurred_at == at, Event.id < event_id))
        )
    # Plain rows of the table's columns: building ORM objects would cost more than the query.
    columns = query.where(*conditions).limit(limit + 1).with_only_columns(*_EVENT_COLUMNS)
    rows = session.execute(columns).all()
    more = len(rows) > limit
    shown = rows[:limit]
    return Page(shown, encode_cursor(shown[-1]) if more and shown else None)


def export_csv(
    session: Session, viewer: Viewer, filters: EventFilter, now: datetime | None = None
) -> Iterator[str]:
    """The visible events as CSV text chunks, a page at a time, newest first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        page = list_events(session, viewer, filters, cursor=cursor, limit=MAX_PAGE, now=now)
        for event in page.events:
            writer.writerow(
                [
                    event.id,
                    event.occurred_at.isoformat(),
                    event.door_id,
                    event.door_kind,
                    event.subject_id or "",
                    event.credential_type or "",
                    event.reason,
                    event.clock_uncertain,
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
