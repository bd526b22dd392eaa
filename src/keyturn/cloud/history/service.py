"""Reading access history: the caller's Viewer at a property, a page of events, the start of
a CSV export and one event's photo.

Every read goes through the one visibility filter with a Viewer built here from the caller's
effective standing, and every read of history or photos is audited (V6), residents' reads
included. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.auth.permissions import (
    MANAGERS,
    Action,
    Principal,
    Standing,
    may,
    standing_at,
)
from keyturn.cloud.history.photos import open_photo
from keyturn.cloud.history.queries import EventFilter, Page, list_events
from keyturn.cloud.history.schemas import event_facts
from keyturn.cloud.history.visibility import resident_periods
from keyturn.cloud.models import Event, Photo
from keyturn.cloud.privacy import audit
from keyturn.rules.photos import can_view_photo
from keyturn.rules.types import Permission
from keyturn.rules.visibility import Viewer


def viewer_at(
    session: Session,
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
    if standing is None or standing.property_id != property_id:
        standing = standing_at(session, principal.person_id, property_id)
    effective = standing.effective_for(principal) if standing is not None else None
    # A manager role at the property (either kind) is exactly what makes it a managed one.
    manages = effective is not None and bool(effective.roles & MANAGERS)
    secures = (
        manages and effective is not None and Permission.SECURITY_VIEWER in effective.permissions
    )
    here = frozenset({property_id})
    return Viewer(
        person_id=principal.person_id,
        resident_periods=resident_periods(session, principal.person_id, now),
        managed_property_ids=here if manages else frozenset(),
        security_viewer_property_ids=here if secures else frozenset(),
    )


@dataclass(frozen=True, slots=True)
class EventsRead:
    """A page of events and the Viewer that saw it (the answer shows them as it may)."""

    page: Page
    viewer: Viewer


def read_events(
    *,
    session: Session,
    principal: Principal,
    property_id: str,
    filters: EventFilter,
    cursor: str | None,
    limit: int,
    standing: Standing | None,
    now: datetime,
) -> EventsRead:
    """One page of the property's events the caller may see, newest first, its read audited.

    BadCursor for a cursor this service did not issue.
    """
    viewer = viewer_at(session, principal, property_id, now, standing)
    page = list_events(session, viewer, filters, cursor=cursor, limit=limit, now=now)
    audit.write(
        session,
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
    return EventsRead(page, viewer)


def start_export(
    *,
    session: Session,
    principal: Principal,
    property_id: str,
    filters: EventFilter,
    standing: Standing | None,
    now: datetime,
) -> Viewer:
    """Audit an export of the property's events and return the Viewer it is read with.

    The caller commits before the first byte leaves, so an aborted download is recorded too.
    """
    viewer = viewer_at(session, principal, property_id, now, standing)
    audit.record(
        session,
        now=now,
        actor_person_id=principal.person_id,
        action="history.export",
        object_type="events",
        property_id=property_id,
        detail={"filters": _described(filters), "as_manager": _manages(viewer, property_id)},
    )
    return viewer


def event_photo(
    *,
    session: Session,
    principal: Principal,
    event_id: str,
    master_key: bytes,
    photo_dir: Path,
    standing: Standing | None,
    now: datetime,
    property_id: str | None = None,
) -> tuple[Photo, bytes]:
    """The photo of one event in clear, only for those P4 allows; its read is audited.

    Everyone else gets NotFound, like for a missing photo, so nobody learns that an event
    they may not see exists; an erased photo is PhotoErased. With `property_id`, an event of
    another property is NotFound too (a page of that property asked for it).
    """
    event = session.get(Event, event_id)
    if property_id is not None and event is not None and event.property_id != property_id:
        event = None
    if event is None or not may(session, principal, Action.PHOTOS_READ, event.property_id):
        raise NotFound()
    viewer = viewer_at(session, principal, event.property_id, now, standing)
    if event.photo_id is None or not can_view_photo(viewer, event_facts(event), False):
        raise NotFound()
    photo = session.get(Photo, event.photo_id)
    if photo is None:
        raise NotFound()
    jpeg = open_photo(photo, master_key, photo_dir)
    audit.record(
        session,
        now=now,
        actor_person_id=principal.person_id,
        action="photo.read",
        object_type="photo",
        object_id=photo.id,
        property_id=event.property_id,
        detail={"event_id": event.id, "as_manager": _manages(viewer, event.property_id)},
    )
    return photo, jpeg


def _described(filters: EventFilter) -> dict[str, Any]:
    """The filters for the audit record, without the property (it has its own column)."""
    fields = {
        "door_id": filters.door_id,
        "person_id": filters.subject_id,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "granted": filters.granted,
        "credential_type": filters.credential_type,
        "kind": filters.kind,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _manages(viewer: Viewer, property_id: str) -> bool:
    return property_id in viewer.managed_property_ids
