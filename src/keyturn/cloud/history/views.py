"""HTTP routes of access history: the event list, its CSV export, and event photos.

Every route reads through `history.queries` with a Viewer built here from the caller's
effective standing, so the one SQL visibility filter decides what is shown; every read of
history or photos writes an audit record (V6), residents' reads included.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
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
from keyturn.cloud.auth.errors import Forbidden, NotFound
from keyturn.cloud.auth.permissions import (
    MANAGERS,
    Action,
    Principal,
    Standing,
    authorize,
    standing_at,
)
from keyturn.cloud.fields import AwareInstant
from keyturn.cloud.history.errors import InvalidFilter, PhotoErased, PhotoUnreadable
from keyturn.cloud.history.queries import MAX_PAGE, EventFilter, export_csv, list_events
from keyturn.cloud.history.schemas import EventPage, Outcome, event_facts, event_page_json
from keyturn.cloud.history.visibility import resident_periods
from keyturn.cloud.models import Event, Photo
from keyturn.cloud.privacy import audit
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.crypto.errors import SealError
from keyturn.crypto.sealed import decrypt_blob, unseal
from keyturn.protocol.photos import photo_context
from keyturn.rules.photos import can_view_photo
from keyturn.rules.types import CredentialType, Permission
from keyturn.rules.visibility import Viewer

ID_MAX = 64
CURSOR_MAX = 512

router = APIRouter(prefix="/api/v1", tags=["history"], responses=GUARDED)


def viewer_at(
    db: Session,
    principal: Principal,
    property_id: str,
    now: datetime,
    standing: Standing | None = None,
) -> Viewer:
    """The caller's Viewer for one property, with manager powers only if they hold them now.

    A manager whose credential lacks the TOTP the property demands reads as a non-manager
    (Standing.effective_for); manager and security-viewer powers elsewhere are left out.
    `standing` is the caller's standing at the property if the request has it already.
    """
    if standing is None:
        standing = standing_at(db, principal.person_id, property_id)
    effective = standing.effective_for(principal) if standing is not None else None
    # A manager role at the property (either kind) is exactly what makes it a managed one.
    manages = effective is not None and bool(effective.roles & MANAGERS)
    secures = (
        manages and effective is not None and Permission.SECURITY_VIEWER in effective.permissions
    )
    here = frozenset({property_id})
    return Viewer(
        person_id=principal.person_id,
        resident_periods=resident_periods(db, principal.person_id, now),
        managed_property_ids=here if manages else frozenset(),
        security_viewer_property_ids=here if secures else frozenset(),
    )


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
    )


Filters = Annotated[EventFilter, Depends(event_filters)]


def _described(filters: EventFilter) -> dict[str, Any]:
    """The filters for the audit record, without the property (it has its own column)."""
    fields = {
        "door_id": filters.door_id,
        "person_id": filters.subject_id,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "granted": filters.granted,
        "credential_type": filters.credential_type,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _manages(viewer: Viewer, property_id: str) -> bool:
    return property_id in viewer.managed_property_ids


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
    standing = checked_standing(request, principal, property_id)
    viewer = viewer_at(db, principal, property_id, now, standing)
    page = list_events(db, viewer, filters, cursor=cursor, limit=limit, now=now)
    body = event_page_json(page.events, viewer, page.next_cursor)
    audit.write(
        db,
        now=now,
        actor_person_id=principal.person_id,
        action="history.read",
        object_type="events",
        property_id=property_id,
        detail={
            "filters": _described(filters),
            "count": len(page.events),
            "as_manager": _manages(viewer, property_id),
            "page": cursor is not None,
        },
    )
    db.commit()
    return body


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
    viewer = viewer_at(
        db, principal, property_id, now, checked_standing(request, principal, property_id)
    )
    audit.record(
        db,
        now=now,
        actor_person_id=principal.person_id,
        action="history.export",
        object_type="events",
        property_id=property_id,
        detail={"filters": _described(filters), "as_manager": _manages(viewer, property_id)},
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


def open_photo(photo: Photo, master_key: bytes, photo_dir: Path) -> bytes:
    """The photo in clear: its data key unsealed, then the lock's ciphertext opened."""
    if photo.key_sealed is None or photo.erased_at is not None:
        raise PhotoErased()
    try:
        blob = (photo_dir / photo.storage_key).read_bytes()
    except FileNotFoundError:
        raise PhotoErased("the photo store no longer holds this photo") from None
    if photo.lock_photo_id is None:
        raise PhotoUnreadable("the lock's name for this photo was not recorded")
    try:
        data_key = unseal(master_key, photo.key_sealed, f"photo-key:{photo.id}".encode())
        return decrypt_blob(data_key, blob, photo_context(photo.lock_photo_id))
    except SealError:
        raise PhotoUnreadable() from None


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
    event = db.get(Event, event_id)
    if event is None:
        raise NotFound()
    try:
        authorize(db, principal, Action.PHOTOS_READ, event.property_id)
    except Forbidden:
        raise NotFound() from None
    standing = checked_standing(request, principal, event.property_id)
    viewer = viewer_at(db, principal, event.property_id, now, standing)
    if event.photo_id is None or not can_view_photo(viewer, event_facts(event), False):
        raise NotFound()
    photo = db.get(Photo, event.photo_id)
    if photo is None:
        raise NotFound()
    jpeg = open_photo(photo, master_key, settings.photo_dir)
    audit.record(
        db,
        now=now,
        actor_person_id=principal.person_id,
        action="photo.read",
        object_type="photo",
        object_id=photo.id,
        property_id=event.property_id,
        detail={"event_id": event.id, "as_manager": _manages(viewer, event.property_id)},
    )
    db.commit()
    return Response(jpeg, media_type=photo.content_type, headers={"Cache-Control": "no-store"})
