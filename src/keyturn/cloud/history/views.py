"""HTTP routes of access history: the event list, its CSV export, and event photos.

Every route reads through `history.service`, which builds the caller's Viewer from their
effective standing (so the one SQL visibility filter decides what is shown) and audits every
read of history or photos (V6), residents' reads included.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud.auth.deps import (
    AppSettings,
    Db,
    Gate,
    MasterKey,
    Now,
    checked_standing,
    gated,
    requires,
)
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.fields import AwareInstant
from keyturn.cloud.history import service as history
from keyturn.cloud.history.errors import InvalidFilter
from keyturn.cloud.history.queries import MAX_PAGE, EventFilter, export_csv
from keyturn.cloud.history.schemas import EventPage, Outcome, event_page_json
from keyturn.cloud.models import Event
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.protocol.event_kinds import EventKind
from keyturn.rules.types import CredentialType
from keyturn.rules.visibility import Viewer

ID_MAX = 64
CURSOR_MAX = 512

router = APIRouter(prefix="/api/v1", tags=["history"], responses=GUARDED)


async def event_filters(
    property_id: str,
    door_id: Annotated[str | None, Query(max_length=ID_MAX)] = None,
    person_id: Annotated[
        str | None, Query(max_length=ID_MAX, description="Only attempts by this person")
    ] = None,
    since: Annotated[
        AwareInstant | None, Query(description="RFC 3339 with offset; inclusive")
    ] = None,
    until: Annotated[
        AwareInstant | None, Query(description="RFC 3339 with offset; exclusive")
    ] = None,
    outcome: Outcome | None = None,
    credential_type: CredentialType | None = None,
    kind: Annotated[
        EventKind | None, Query(description='"attempt", or a door event such as "forced_open"')
    ] = None,
) -> EventFilter:
    """The query's filters, bound to the property in the path."""
    if since is not None and until is not None and since >= until:
        raise InvalidFilter("until", "`until` must be later than `since`")
    return EventFilter(
        property_id=property_id,
        door_id=door_id,
        subject_id=person_id,
        since=since,
        until=until,
        granted=None if outcome is None else outcome == Outcome.GRANTED,
        credential_type=credential_type,
        kind=None if kind is None else str(kind),
    )


Filters = Annotated[EventFilter, Depends(event_filters)]


@router.get(
    "/properties/{property_id}/events",
    response_model=EventPage,
    responses=problem_responses(
        400,
        404,
        422,
        meaning={
            400: "The cursor was not issued by this service",
            404: "No such property, or none the caller has a role at",
            422: "A filter is malformed or contradictory",
        },
    ),
)
async def list_property_events(
    request: Request,
    property_id: str,
    gate: Annotated[Gate, gated(Action.HISTORY_READ, autocommit=True)],
    filters: Filters,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Response:
    """The door events of the property the caller may see, newest first, a page at a time.

    What a person sees follows V1-V5 (the visibility filter); every read is audited.
    """

    def page_for(principal: Principal) -> bytes:
        return _events_page(
            gate.db, request, principal, property_id, filters, cursor, limit, gate.now
        )

    return Response(await gate.run(page_for), media_type="application/json")


def _events_page(
    db: Session,
    request: Request,
    principal: Principal,
    property_id: str,
    filters: EventFilter,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> bytes:
    """One page of /events as JSON, its read audited and committed before it is answered."""
    read = history.read_events(
        session=db,
        principal=principal,
        property_id=property_id,
        filters=filters,
        cursor=cursor,
        limit=limit,
        standing=checked_standing(request, principal, property_id),
        now=now,
    )
    db.commit()
    return event_page_json(read.page.events, read.viewer, read.page.next_cursor)


def _csv_stream(
    sessions: sessionmaker[Session], viewer: Viewer, filters: EventFilter, now: datetime
) -> Iterator[str]:
    """The export in its own session, as the request's session closes before streaming."""
    with sessions() as session:
        yield from export_csv(session, viewer, filters, now=now)


@router.get(
    "/properties/{property_id}/events/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The visible events as CSV",
        }
    },
)
def export_property_events(
    property_id: str,
    request: Request,
    principal: Annotated[Principal, requires(Action.HISTORY_EXPORT)],
    filters: Filters,
    db: Db,
    now: Now,
) -> StreamingResponse:
    """Every event of the property this manager may see, as CSV, newest first.

    The export is audited before the first byte leaves, so an aborted download is recorded
    too; it never holds more than the manager's own /events would show.
    """
    viewer = history.start_export(
        session=db,
        principal=principal,
        property_id=property_id,
        filters=filters,
        standing=checked_standing(request, principal, property_id),
        now=now,
    )
    db.commit()
    filename = f"events-{property_id}-{now:%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(
        _csv_stream(request.app.state.sessions, viewer, filters, now),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _event_property(session: Session, params: Mapping[str, Any]) -> str | None:
    """The property of the event named in the path, for the permission check."""
    event = session.get(Event, params.get("event_id"))
    return event.property_id if event is not None else None


@router.get(
    "/events/{event_id}/photo",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The photo, decrypted",
        },
        **problem_responses(
            404,
            410,
            meaning={
                404: "No such event or photo, or the caller may not see it (P4)",
                410: "The photo was erased",
            },
        ),
    },
)
def read_event_photo(
    request: Request,
    event_id: Annotated[str, PathParam(max_length=ID_MAX)],
    principal: Annotated[Principal, requires(Action.HISTORY_READ, property_from=_event_property)],
    db: Db,
    now: Now,
    master_key: MasterKey,
    settings: AppSettings,
) -> Response:
    """The photo of one event, only for those P4 allows; everyone else gets 404.

    A refusal is indistinguishable from a missing photo, so nobody learns that an event
    they may not see exists; every photo served is audited.
    """
    photo, jpeg = history.event_photo(
        session=db,
        principal=principal,
        event_id=event_id,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        standing=checked_standing(request, principal),
        now=now,
    )
    db.commit()
    return Response(jpeg, media_type=photo.content_type, headers={"Cache-Control": "no-store"})
