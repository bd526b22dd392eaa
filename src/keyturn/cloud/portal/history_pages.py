"""The history page: the same query, audit and photo rule as the API's /events, with names.

Filters are GET query fields; the first page updates itself (a live region over
`history/live`), older pages follow the cursor. Photos are served by the history service's
`event_photo`, which applies P4 and audits the read, as the API's photo route does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, NamedTuple, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from keyturn.cloud.alerts.service import change_marker
from keyturn.cloud.auth.deps import AppSettings, Db, MasterKey, checked_standing
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.history.listing import HistoryRead, read_history
from keyturn.cloud.history.queries import EventFilter
from keyturn.cloud.history.schemas import Outcome
from keyturn.cloud.history.service import event_photo
from keyturn.cloud.portal.live import live_headers, region_etag, unchanged
from keyturn.cloud.portal.navigation import property_path
from keyturn.cloud.portal.templating import render
from keyturn.cloud.web.formatting import local_time
from keyturn.cloud.web.gate import PageGate, Viewer, gated_page, page
from keyturn.protocol.event_kinds import EventKind
from keyturn.rules.types import CredentialType, Reason

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)

PAGE_ROWS = 50
CURSOR_MAX = 512
ID_MAX = 64
E = TypeVar("E", bound=StrEnum)
CREDENTIAL_WORDS = {
    CredentialType.MOBILE_KEY: "phone",
    CredentialType.PERSONAL_DOORCODE: "personal code",
    CredentialType.SINGLE_DAY_CODE: "day code",
    CredentialType.ONE_TIME_CODE: "one-time code",
    CredentialType.KEYCARD: "keycard",
    CredentialType.MECHANICAL_KEY: "metal key",
}
REASON_WORDS = {
    Reason.GRANTED: "opened",
    Reason.UNKNOWN_CREDENTIAL: "refused: not a known credential",
    Reason.WRONG_DOOR: "refused: not for this door",
    Reason.OUTSIDE_SCHEDULE: "refused: outside its hours",
    Reason.NOT_YET_VALID: "refused: not valid yet",
    Reason.EXPIRED: "refused: expired",
    Reason.REVOKED: "refused: revoked",
    Reason.SUSPENDED: "refused: suspended",
    Reason.KEYPAD_LOCKED_OUT: "refused: keypad locked out",
    Reason.LOCKDOWN: "refused: building locked down",
}
KIND_WORDS = {
    EventKind.ATTEMPT: "attempt to open",
    EventKind.DOOR_AJAR: "door held open",
    EventKind.FORCED_OPEN: "door forced open",
    EventKind.BATTERY_LOW: "battery low",
    EventKind.POWER_RESTORED: "power restored",
    EventKind.KEYPAD_LOCKOUT: "keypad locked out",
    EventKind.CLOCK_CORRECTED: "clock corrected",
    EventKind.ACCESS_LIST_REFUSED: "access list refused",
    EventKind.FIRMWARE_UPDATED: "firmware updated",
    EventKind.FIRMWARE_REFUSED: "firmware refused",
    EventKind.PURGED: "records removed",
}
OUTCOME_WORDS = {Outcome.GRANTED: "opened", Outcome.DENIED: "refused"}


@dataclass
class Asked:
    """The page's filter fields as sent, what they mean, and what was wrong with them."""

    fields: dict[str, str]
    filters: EventFilter
    errors: dict[str, list[str]] = field(default_factory=dict)


def _asked(request: Request, property_id: str, zone: ZoneInfo) -> Asked:
    sent = {
        name: value.strip()[:ID_MAX]
        for name, value in request.query_params.items()
        if name in {"door", "person", "from", "to", "outcome", "credential", "kind"}
        and value.strip()
    }
    errors: dict[str, list[str]] = {}

    def day(name: str) -> date | None:
        if name not in sent:
            return None
        try:
            return date.fromisoformat(sent[name])
        except ValueError:
            errors[name] = ["Write the date as YYYY-MM-DD."]
            return None

    def choice(name: str, kinds: type[E]) -> E | None:
        if name not in sent:
            return None
        try:
            return kinds(sent[name])
        except ValueError:
            errors[name] = ["Choose one of the listed values."]
            return None

    first, last = day("from"), day("to")
    since = None if first is None else datetime.combine(first, time(), zone)
    until = None if last is None else datetime.combine(last + timedelta(days=1), time(), zone)
    if since is not None and until is not None and since >= until:
        errors["to"] = ["The last day cannot be before the first."]
    outcome = choice("outcome", Outcome)
    kind = choice("kind", EventKind)
    filters = EventFilter(
        property_id=property_id,
        door_id=sent.get("door"),
        subject_id=sent.get("person"),
        since=since,
        until=until,
        granted=None if outcome is None else outcome == Outcome.GRANTED,
        credential_type=choice("credential", CredentialType),
        kind=None if kind is None else str(kind),
    )
    return Asked(sent, filters, errors)


def _export_url(property_id: str, filters: EventFilter) -> str:
    """The API's CSV export of the same filters (it audits the export itself)."""
    params = {
        "door_id": filters.door_id,
        "person_id": filters.subject_id,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "outcome": None
        if filters.granted is None
        else (Outcome.GRANTED if filters.granted else Outcome.DENIED).value,
        "credential_type": filters.credential_type,
        "kind": filters.kind,
    }
    query = urlencode({name: str(value) for name, value in params.items() if value is not None})
    return f"/api/v1/properties/{property_id}/events/export.csv" + (f"?{query}" if query else "")


def _read(
    request: Request, db: Db, viewer: Viewer, property_id: str, asked: Asked, cursor: str | None
) -> HistoryRead:
    read = read_history(
        session=db,
        principal=viewer.principal,
        property_id=property_id,
        filters=asked.filters,
        cursor=cursor,
        limit=PAGE_ROWS,
        standing=checked_standing(request, viewer.principal, property_id),
        now=viewer.now,
        with_gaps=viewer.can(Action.DEVICES_READ),
        names_people=viewer.can(Action.PEOPLE_READ),
    )
    db.commit()  # the read's audit record
    return read


class RowShown(NamedTuple):
    """One row as the table writes it: plain words (a template's calls cost more than these)."""

    when: str
    door: str
    who: str | None
    what: str
    credential: str | None
    result: str | None
    opened: bool
    photo_href: str | None
    clock_uncertain: bool


class Option(NamedTuple):
    value: str
    label: str
    selected: bool


def _options(choices: Iterable[tuple[str, str]], chosen: str | None) -> list[Option]:
    return [Option(value, label, value == chosen) for value, label in choices]


def _shown(read: HistoryRead, viewer: Viewer, property_id: str) -> dict[str, Any]:
    """The rows and log gaps of a read in words, times in the property's zone."""
    zone, now = viewer.zone, viewer.now
    photos = property_path(property_id, "/history/photos/")
    rows = [
        RowShown(
            when=local_time(row.occurred_at, zone, now),
            door=row.door_name,
            who=row.person_name,
            what=KIND_WORDS.get(row.kind, row.kind),  # type: ignore[call-overload]
            credential=None
            if row.credential_type is None
            else CREDENTIAL_WORDS.get(row.credential_type, row.credential_type),
            result=None if row.reason is None else REASON_WORDS.get(row.reason, row.reason),
            opened=row.outcome == Outcome.GRANTED,
            photo_href=photos + row.event_id if row.photo else None,
            clock_uncertain=row.clock_uncertain,
        )
        for row in read.rows
    ]
    gaps = [
        (
            gap.door_name,
            "its first entry" if gap.after is None else local_time(gap.after, zone, now),
            "now" if gap.before is None else local_time(gap.before, zone, now),
        )
        for gap in read.gaps
    ]
    return {"rows": rows, "gaps": gaps}


def _form(asked: Asked, read: HistoryRead | None) -> dict[str, Any]:
    """The filter form's choices, the sent ones selected."""
    sent = asked.fields.get
    return {
        "door_options": _options(
            ((door.value, door.label) for door in (read.doors if read else [])), sent("door")
        ),
        "person": read.person if read else None,
        "without_person": urlencode({k: v for k, v in asked.fields.items() if k != "person"}),
        "outcome_options": _options(OUTCOME_WORDS.items(), sent("outcome")),
        "credential_options": _options(CREDENTIAL_WORDS.items(), sent("credential")),
        "kind_options": _options(KIND_WORDS.items(), sent("kind")),
    }


@router.get("/history", response_class=HTMLResponse)
async def history_page(
    request: Request,
    property_id: str,
    gate: Annotated[PageGate, gated_page(Action.HISTORY_READ, autocommit=True)],
) -> HTMLResponse:
    """The door events the caller may see, newest first, 50 at a time, with filters."""
    return await gate.run(lambda viewer: _history_page(request, property_id, viewer, gate.db))


def _history_page(request: Request, property_id: str, viewer: Viewer, db: Db) -> HTMLResponse:
    asked = _asked(request, property_id, viewer.zone)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > CURSOR_MAX:
        cursor = None
    base = property_path(property_id, "/history")
    if asked.errors:
        return render(
            request,
            "history/list.html",
            viewer=viewer,
            title="History",
            status_code=422,
            asked=asked,
            read=None,
            **_form(asked, None),
        )
    read = _read(request, db, viewer, property_id, asked, cursor)
    query = urlencode(asked.fields)
    older = None
    if read.next_cursor is not None:
        older = f"{base}?{urlencode({**asked.fields, 'cursor': read.next_cursor})}"
    return render(
        request,
        "history/list.html",
        viewer=viewer,
        title="History",
        asked=asked,
        read=read,
        **_form(asked, read),
        **_shown(read, viewer, property_id),
        first_page=cursor is None,
        older=older,
        newest=f"{base}?{query}" if cursor is not None else None,
        live_url=f"{base}/live" + (f"?{query}" if query else ""),
        export_url=_export_url(property_id, asked.filters),
    )


@router.get("/history/live", response_class=HTMLResponse)
async def history_live(
    request: Request,
    property_id: str,
    gate: Annotated[PageGate, gated_page(Action.HISTORY_READ, autocommit=True)],
) -> Response:
    """The first page's rows, or 304 while nothing changed (then nothing is read or audited)."""
    return await gate.run(lambda viewer: _history_live(request, property_id, viewer, gate.db))


def _history_live(request: Request, property_id: str, viewer: Viewer, db: Db) -> Response:
    etag = region_etag(viewer, change_marker(session=db, property_id=property_id), request)
    if (same := unchanged(request, etag)) is not None:
        return same
    asked = _asked(request, property_id, viewer.zone)
    if asked.errors:
        return Response(status_code=422)
    read = _read(request, db, viewer, property_id, asked, None)
    return render(
        request,
        "history/_rows.html",
        viewer=viewer,
        title="History",
        headers=live_headers(etag),
        **_shown(read, viewer, property_id),
    )


@router.get("/history/photos/{event_id}", response_class=Response)
def history_photo(
    request: Request,
    property_id: str,
    event_id: Annotated[str, PathParam(max_length=ID_MAX)],
    viewer: Annotated[Viewer, page(Action.HISTORY_READ)],
    db: Db,
    master_key: MasterKey,
    settings: AppSettings,
) -> Response:
    """The event's photo through the history service (P4, audited), as the API serves it."""
    photo, jpeg = event_photo(
        session=db,
        principal=viewer.principal,
        event_id=event_id,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        standing=checked_standing(request, viewer.principal, property_id),
        now=viewer.now,
        property_id=property_id,
    )
    db.commit()
    return Response(jpeg, media_type=photo.content_type, headers={"Cache-Control": "no-store"})
