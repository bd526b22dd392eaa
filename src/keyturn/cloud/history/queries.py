"""Reading access history: filters, newest-first cursor pages and CSV export.

Every read starts from `visibility_clause`, the one SQL form of the visibility rule, so no
caller can list an event its viewer may not see.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, ColumnElement, Integer, Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.db import utcnow
from keyturn.cloud.history.schemas import StoredEvent, StoredRow
from keyturn.cloud.history.visibility import (
    NEWEST_FIRST,
    Shape,
    viewer_params,
    viewer_shape,
    visibility_clause,
)
from keyturn.cloud.models import Event
from keyturn.cloud.paging import read_time_cursor, time_cursor
from keyturn.cloud.privacy.retention.policies import hidden_before, shown_events
from keyturn.rules.types import CredentialType
from keyturn.rules.visibility import Viewer

MAX_PAGE = 500
# The columns readers use (StoredEvent's): the others (detail, device, grant) cost time to
# convert and no reader of a page shows them.
_EVENT_COLUMNS = tuple(getattr(Event, name) for name in StoredRow._fields)
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


@dataclass(frozen=True, slots=True)
class EventFilter:
    property_id: str | None = None
    door_id: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    granted: bool | None = None
    credential_type: CredentialType | None = None
    kind: str | None = None  # "attempt" or a door event's kind (EventKind)


@dataclass(frozen=True, slots=True)
class Page:
    events: Sequence[StoredEvent]
    next_cursor: str | None


def encode_cursor(event: StoredEvent) -> str:
    return time_cursor(event.occurred_at, event.id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    return read_time_cursor(cursor)


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
    moment = now or utcnow()
    params = viewer_params(viewer)
    params["limit"] = limit + 1
    shown: ColumnElement[bool] | None = None
    if filters.property_id is not None:
        params["property"] = filters.property_id
        since = hidden_before(session, moment, filters.property_id)
        if since is not None:
            params["shown_since"] = since
    else:
        shown = shown_events(session, moment)
    optional = {
        "door": filters.door_id,
        "subject": filters.subject_id,
        "since": filters.since,
        "until": filters.until,
        "credential_type": filters.credential_type,
        "kind": filters.kind,
    }
    params.update((name, value) for name, value in optional.items() if value is not None)
    if cursor is not None:
        params["cursor_at"], params["cursor_id"] = decode_cursor(cursor)
    statement = _page_statement(viewer_shape(viewer), frozenset(params), filters.granted)
    if shown is not None:
        statement = statement.where(shown)
    # Core rows: the ORM's result handling would only cost time for plain column tuples.
    rows = list(map(StoredRow._make, session.connection().execute(statement, params).all()))
    more = len(rows) > limit
    shown_rows = rows[:limit]
    return Page(shown_rows, encode_cursor(shown_rows[-1]) if more and shown_rows else None)


@functools.lru_cache(maxsize=512)
def _page_statement(
    shape: Shape, bound: frozenset[str], granted: bool | None
) -> Select[tuple[object, ...]]:
    """The page query for one combination of filters, built once and run with parameters.

    `shape` is the viewer's (see `visibility_clause`) and `bound` names the parameters the
    read binds; it reads plain rows of the StoredEvent columns, which cost less than ORM
    objects.
    """
    conditions = [visibility_clause(shape)]
    if "shown_since" in bound:
        conditions.append(Event.occurred_at >= bindparam("shown_since"))
    if "property" in bound:
        conditions.append(Event.property_id == bindparam("property"))
    if "door" in bound:
        conditions.append(Event.door_id == bindparam("door"))
    if "subject" in bound:
        conditions.append(Event.subject_id == bindparam("subject"))
    if "since" in bound:
        conditions.append(Event.occurred_at >= bindparam("since"))
    if "until" in bound:
        conditions.append(Event.occurred_at < bindparam("until"))
    if "credential_type" in bound:
        conditions.append(Event.credential_type == bindparam("credential_type"))
    if "kind" in bound:
        conditions.append(Event.kind == bindparam("kind"))
    if granted is not None:
        is_granted = Event.reason == "granted"
        conditions.append(is_granted if granted else ~is_granted)
    if "cursor_at" in bound:
        after: BindParameter[datetime] = bindparam("cursor_at")
        conditions.append(
            or_(
                Event.occurred_at < after,
                and_(Event.occurred_at == after, Event.id < bindparam("cursor_id")),
            )
        )
    return (
        select(*_EVENT_COLUMNS)
        .where(*conditions)
        .order_by(*NEWEST_FIRST)
        .limit(bindparam("limit", type_=Integer))
    )


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
