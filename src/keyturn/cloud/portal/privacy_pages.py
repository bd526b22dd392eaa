"""The portal's privacy pages: the reviewer's data requests, the retention policy and its log
gaps, and the audit record, each over the same service and Action as its API route."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from keyturn.cloud.auth.deps import AppSettings, Config, Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.models import DataSubjectRequest
from keyturn.cloud.portal.templating import render
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.audit_record.service import (
    ACTION_WORDS,
    AuditFilter,
    AuditPage,
    action_words,
    read_audit_record,
)
from keyturn.cloud.privacy.models import RequestKind
from keyturn.cloud.privacy.requests import ReviewerChannel
from keyturn.cloud.privacy.retention.override import change_override
from keyturn.cloud.privacy.retention.schemas import RetentionOverrideIn
from keyturn.cloud.privacy.retention.status import retention_shown
from keyturn.cloud.privacy.review_queue import review_queue, reviewed_request
from keyturn.cloud.privacy.schemas import FiledRequestIn, ReasonIn
from keyturn.cloud.web.formatting import local_time
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)

AUDIT_PAGE = 50
CHANNELS = {
    ReviewerChannel.EMAIL: "Email",
    ReviewerChannel.PHONE: "Phone",
    ReviewerChannel.POST: "Post",
    ReviewerChannel.IN_PERSON: "In person",
    ReviewerChannel.OTHER: "Other",
}
DONE = {
    "filed": "The request is logged. Check who asked, then approve it.",
    "approved": "The request is approved.",
    "acknowledged": "The acknowledgement is recorded.",
    "id-required": "A government ID is now required before approval.",
    "refused": "The request is refused; the person is told the reason if they can be.",
    "held": "The request is on hold.",
    "released": "The hold is released.",
    "extended": "The deadline is extended once, by 45 days.",
    "proceeded": "The request was carried forward.",
    "retention": "The retention is changed.",
}
# Detail members an audit page leaves out: ids (their names stand beside them).
_ID_SUFFIXES = ("_id", "_ids")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _request_at_property(session: Session, params: Mapping[str, Any]) -> str | None:
    """The property handling the request in the path, if it is the path's property."""
    found = session.get(DataSubjectRequest, params.get("request_id"))
    if found is None or found.property_id != params.get("property_id"):
        return None
    return found.property_id


Reviewing = Annotated[Viewer, page(Action.DSAR_REVIEW)]
ReviewingOne = Annotated[Viewer, page(Action.DSAR_REVIEW, property_from=_request_at_property)]


def _errors(error: ValidationError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in error.errors():
        name = str(item["loc"][-1]) if item["loc"] else "form"
        found.setdefault(name, []).append(str(item["msg"]).removeprefix("Value error, "))
    return found


def _requests_path(property_id: str, below: str = "") -> str:
    return f"/portal/properties/{property_id}/requests{below}"


# -- data requests ------------------------------------------------------------------------


def _queue_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    *,
    overdue: bool,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert viewer.prop is not None
    queue = review_queue(
        session=db, property_id=viewer.prop.id, now=viewer.now, overdue_only=overdue
    )
    return render(
        request,
        "privacy/requests.html",
        viewer=viewer,
        title="Data requests",
        status_code=status_code,
        queue=queue,
        overdue_only=overdue,
        channels=CHANNELS,
        kinds=list(RequestKind),
        form=form or {},
        errors=errors or {},
    )


@router.get("/requests", response_class=HTMLResponse)
def request_queue(
    request: Request,
    property_id: str,
    viewer: Reviewing,
    db: Db,
    overdue: bool = False,
) -> HTMLResponse:
    """The requests this property's reviewers handle, newest first."""
    return _queue_page(request, viewer, db, overdue=overdue)


@router.post("/requests", response_class=HTMLResponse)
def file_request(
    request: Request,
    property_id: str,
    viewer: Reviewing,
    db: Db,
    kind: Annotated[str, Form(max_length=40)] = "",
    channel: Annotated[str, Form(max_length=40)] = "",
    requester_name: Annotated[str, Form(max_length=400)] = "",
    requester_email: Annotated[str, Form(max_length=400)] = "",
    requester_phone: Annotated[str, Form(max_length=80)] = "",
    received_on: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Log a request someone made by email, phone, post or in person (the API's filing)."""
    sent = {
        "kind": kind,
        "channel": channel,
        "requester_name": requester_name,
        "requester_email": requester_email,
        "requester_phone": requester_phone,
        "received_on": received_on,
        "note": note,
    }
    try:
        received_at = _local_instant(received_on, viewer)
        body = FiledRequestIn.model_validate(
            {
                "kind": kind,
                "channel": channel,
                "requester_name": requester_name,
                "requester_email": requester_email.strip() or None,
                "requester_phone": requester_phone.strip() or None,
                "received_at": received_at,
                "note": note.strip() or None,
            }
        )
    except ValueError as error:
        found = _errors(error) if isinstance(error, ValidationError) else {}
        if not isinstance(error, ValidationError):
            found = {"received_on": [str(error)]}
        return _queue_page(
            request, viewer, db, overdue=False, form=sent, errors=found, status_code=422
        )
    row = requests.file_for_requester(
        session=db,
        property_id=property_id,
        reviewer_id=viewer.principal.person_id,
        kind=body.kind,
        channel=body.channel,
        requester_name=body.requester_name,
        requester_email=body.requester_email,
        requester_phone=body.requester_phone,
        person_id=None,
        received_at=body.received_at,
        note=body.note,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(_requests_path(property_id, f"/{row.id}?done=filed"), status_code=303)


def _local_instant(value: str, viewer: Viewer) -> datetime | None:
    """A `datetime-local` field's value as an instant in the property's zone; None if blank."""
    if not value.strip():
        return None
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("Give the date and time the request was received.") from None
    return naive.replace(tzinfo=viewer.zone)


def _request_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    request_id: str,
    *,
    done: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    form: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    shown = reviewed_request(session=db, request_id=request_id, now=viewer.now)
    return render(
        request,
        "privacy/request.html",
        viewer=viewer,
        title=f"{shown.kind.value.capitalize()} request from {shown.who}",
        status_code=status_code,
        req=shown,
        done=DONE.get(done or ""),
        errors=errors or {},
        form=form or {},
        channels=CHANNELS,
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request,
    property_id: str,
    request_id: str,
    viewer: ReviewingOne,
    db: Db,
    done: str | None = None,
) -> HTMLResponse:
    """One request: who asked, its deadlines and proof, holds, locks' purges, and its steps."""
    return _request_page(request, viewer, db, request_id, done=done)


def _after(property_id: str, request_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(
        _requests_path(property_id, f"/{request_id}?done={done}"), status_code=303
    )


@router.post("/requests/{request_id}/approve")
def approve(
    property_id: str,
    request_id: str,
    viewer: ReviewingOne,
    db: Db,
    settings: AppSettings,
    config: Config,
    master_key: MasterKey,
) -> Response:
    requests.approve_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        config=config,
        request_id=request_id,
        reviewer_id=viewer.principal.person_id,
        now=viewer.now,
    )
    db.commit()
    return _after(property_id, request_id, "approved")


@router.post("/requests/{request_id}/acknowledge")
def acknowledge(property_id: str, request_id: str, viewer: ReviewingOne, db: Db) -> Response:
    requests.acknowledge_request(
        session=db, request_id=request_id, reviewer_id=viewer.principal.person_id, now=viewer.now
    )
    db.commit()
    return _after(property_id, request_id, "acknowledged")


@router.post("/requests/{request_id}/require-id")
def require_id(property_id: str, request_id: str, viewer: ReviewingOne, db: Db) -> Response:
    requests.require_government_id(
        session=db, request_id=request_id, reviewer_id=viewer.principal.person_id, now=viewer.now
    )
    db.commit()
    return _after(property_id, request_id, "id-required")


@router.post("/requests/{request_id}/release")
def release(property_id: str, request_id: str, viewer: ReviewingOne, db: Db) -> Response:
    requests.release_request(
        session=db, request_id=request_id, reviewer_id=viewer.principal.person_id, now=viewer.now
    )
    db.commit()
    return _after(property_id, request_id, "released")


@router.post("/requests/{request_id}/proceed")
def proceed(
    property_id: str,
    request_id: str,
    viewer: ReviewingOne,
    db: Db,
    settings: AppSettings,
    master_key: MasterKey,
) -> Response:
    requests.proceed_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        request_id=request_id,
        reviewer_id=viewer.principal.person_id,
        now=viewer.now,
    )
    db.commit()
    return _after(property_id, request_id, "proceeded")


ReasonedStep = Callable[..., DataSubjectRequest]
_REASONED: dict[str, tuple[ReasonedStep, str]] = {
    "refuse": (requests.refuse_request, "refused"),
    "hold": (requests.hold_request, "held"),
    "extend": (requests.extend_request, "extended"),
}


def _reasoned(
    step: str,
    request: Request,
    property_id: str,
    request_id: str,
    viewer: Viewer,
    db: Session,
    reason: str,
) -> Response:
    """A step that records a reason (refuse, hold, extend); a blank one re-asks on the page."""
    try:
        body = ReasonIn.model_validate({"reason": reason.strip()})
    except ValidationError as error:
        found = {f"{step}-reason": [message for ms in _errors(error).values() for message in ms]}
        return _request_page(
            request, viewer, db, request_id, errors=found, form={step: reason}, status_code=422
        )
    run, done = _REASONED[step]
    run(
        session=db,
        request_id=request_id,
        reason=body.reason,
        reviewer_id=viewer.principal.person_id,
        now=viewer.now,
    )
    db.commit()
    return _after(property_id, request_id, done)


@router.post("/requests/{request_id}/refuse")
def refuse(
    request: Request,
    property_id: str,
    request_id: str,
    viewer: ReviewingOne,
    db: Db,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return _reasoned("refuse", request, property_id, request_id, viewer, db, reason)


@router.post("/requests/{request_id}/hold")
def hold(
    request: Request,
    property_id: str,
    request_id: str,
    viewer: ReviewingOne,
    db: Db,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return _reasoned("hold", request, property_id, request_id, viewer, db, reason)


@router.post("/requests/{request_id}/extend")
def extend(
    request: Request,
    property_id: str,
    request_id: str,
    viewer: ReviewingOne,
    db: Db,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return _reasoned("extend", request, property_id, request_id, viewer, db, reason)


# -- retention ----------------------------------------------------------------------------


def _retention_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    *,
    done: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    sent: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    assert viewer.prop is not None
    shown = retention_shown(session=db, property_id=viewer.prop.id, now=viewer.now)
    return render(
        request,
        "privacy/retention.html",
        viewer=viewer,
        title="Retention",
        status_code=status_code,
        shown=shown,
        retention=shown.status.retention,
        done=DONE.get(done or ""),
        errors=errors or {},
        sent=sent,
    )


@router.get("/retention", response_class=HTMLResponse)
def retention(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.RETENTION_READ)],
    db: Db,
    done: str | None = None,
) -> HTMLResponse:
    """The property's retention in words and its recorded log gaps (R4)."""
    return _retention_page(request, viewer, db, done=done)


@router.post("/retention", response_class=HTMLResponse)
def set_retention(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.RETENTION_MANAGE)],
    db: Db,
    override_days: Annotated[str, Form(max_length=20)] = "",
    clear: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Shorten the retention, or go back to the jurisdiction's; longer than the law allows is
    refused by the service (an error page) and nothing changes."""
    try:
        days = None if clear else int(override_days.strip())
    except ValueError:
        found = {"override_days": ["Give a whole number of days."]}
        return _retention_page(
            request, viewer, db, errors=found, sent=override_days, status_code=422
        )
    try:
        body = RetentionOverrideIn.model_validate({"override_days": days})
    except ValidationError as error:
        return _retention_page(
            request, viewer, db, errors=_errors(error), sent=override_days, status_code=422
        )
    change_override(
        session=db,
        property_id=property_id,
        override_days=body.override_days,
        actor_person_id=viewer.principal.person_id,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(
        f"/portal/properties/{property_id}/retention?done=retention", status_code=303
    )


# -- audit record -------------------------------------------------------------------------


def _day_start(value: str | None, viewer: Viewer, *, after: bool = False) -> datetime | None:
    """Midnight at the start of a local date (of the next day with `after`), as an instant."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if after:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=viewer.zone)


def _readable(detail: Mapping[str, Any], viewer: Viewer) -> list[tuple[str, str]]:
    """The detail an audit entry records, in words: ids left out (their names are beside),
    instants in the property's time."""
    shown: list[tuple[str, str]] = []
    for name, value in detail.items():
        if name == "id" or name.endswith(_ID_SUFFIXES) or value is None:
            continue
        if isinstance(value, Mapping):
            inner = _readable(value, viewer)
            if inner:
                shown.append((name.replace("_", " "), "; ".join(f"{k}: {v}" for k, v in inner)))
            continue
        items = value if isinstance(value, list) else [value]
        words = [_word(item, viewer) for item in items if not _UUID.match(str(item))]
        if words:
            shown.append((name.replace("_", " "), ", ".join(words)))
    return shown


def _word(value: object, viewer: Viewer) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and _INSTANT.match(value):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            return value
        if instant.tzinfo is not None:
            return local_time(instant, viewer.zone, viewer.now)
    return str(value)


@router.get("/audit", response_class=HTMLResponse)
def audit_record(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.AUDIT_READ)],
    db: Db,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """Who did what here and when, newest first; this read is recorded too."""
    filters = AuditFilter(
        actor_person_id=actor or None,
        action=action or None,
        since=_day_start(since, viewer),
        until=_day_start(until, viewer, after=True),
    )
    found: AuditPage = read_audit_record(
        session=db,
        reader_person_id=viewer.principal.person_id,
        property_id=property_id,
        filters=filters,
        cursor=cursor or None,
        limit=AUDIT_PAGE,
        now=viewer.now,
    )
    db.commit()
    kept = {"actor": actor, "action": action, "since": since, "until": until}
    kept = {name: value for name, value in kept.items() if value}
    older = (
        "?" + urlencode({**kept, "cursor": found.next_cursor})
        if found.next_cursor is not None
        else None
    )
    actor_name = next(
        (entry.actor.name for entry in found.entries if entry.actor.person_id == actor), None
    )
    return render(
        request,
        "privacy/audit.html",
        viewer=viewer,
        title="Audit record",
        entries=[(entry, _readable(entry.detail, viewer)) for entry in found.entries],
        older=older,
        filters=kept,
        actor_name=actor_name,
        actions=_action_choices(),
        paged=cursor is not None,
    )


def _action_choices() -> list[tuple[str, str]]:
    families = sorted({code.partition(".")[0] for code in ACTION_WORDS})
    choices = [(family, f"{action_words(family)} (all)") for family in families]
    return choices + sorted(ACTION_WORDS.items(), key=lambda item: item[1])
