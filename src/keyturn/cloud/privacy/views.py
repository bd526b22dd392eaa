"""HTTP routes of data-subject requests: the person's own, an authorised agent's, and the
reviewer's (DSAR_REVIEW at the property that handles the request).

Views are thin: each route calls one function of `privacy.requests`, which finds the request
where the caller may see it, takes the step and writes the audit trail; the view commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from keyturn.cloud.auth.deps import AppSettings, Config, Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.body_limits import body_limit
from keyturn.cloud.fields import QueryFlag
from keyturn.cloud.models import DataSubjectRequest
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, page_list
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.lock_purges import purge_status
from keyturn.cloud.privacy.schemas import (
    AGENT_REQUEST_BODY_LIMIT,
    GOVERNMENT_ID_BODY_LIMIT,
    AgentRequestCreate,
    DocumentOut,
    ExemptIn,
    FiledRequestIn,
    GovernmentIdIn,
    HoldOut,
    LockOut,
    ReasonIn,
    RequestCreate,
    RequestOut,
    VerifyIn,
)
from keyturn.cloud.privacy.verification import DOCUMENT_TYPES, DocumentKind, decode_upload
from keyturn.cloud.problems import GUARDED, problem_responses

ZIP = "application/zip"
BYTES = {"schema": {"type": "string", "format": "binary"}}

router = APIRouter(prefix="/api/v1", tags=["data requests"], responses=GUARDED)
LISTED = problem_responses(400, meaning={400: "The cursor names no request of this list"})
# Every step of the workflow applies only in some states; filing and codes are also throttled.
STEP = problem_responses(
    409,
    meaning={409: "The request is not in a state where this step applies, or waits on something"},
)
THROTTLED_STEP = problem_responses(
    409,
    429,
    meaning={
        409: "The request is not in a state where this step applies, or waits on something",
        429: "Too many codes or tries; ask again later",
    },
)


def _request_property(session: Session, params: Mapping[str, Any]) -> str | None:
    """The property whose reviewers handle the request named in the path."""
    found = session.get(DataSubjectRequest, params.get("request_id"))
    return found.property_id if found is not None else None


Submitter = Annotated[Principal, requires(Action.DSAR_SUBMIT)]
Reviewer = Annotated[Principal, requires(Action.DSAR_REVIEW, property_from=_request_property)]


def request_out(
    db: Session, row: DataSubjectRequest, now: datetime, *, reviewer: bool = False
) -> RequestOut:
    """The request as its reviewer sees it, or as the person or their agent does: they are
    not shown whom it matched or the reviewer's notes (an agent could learn from the match
    whether an address has an account)."""
    return RequestOut(
        id=row.id,
        kind=row.kind,
        channel=row.channel,
        state=row.state,
        by_agent=row.agent_person_id is not None,
        identity=requests.identity_state(row),
        match=requests.match_of(db, row) if reviewer else None,
        person_id=row.person_id if reviewer else None,
        requester_name=row.requester_name if reviewer else None,
        requester_email=row.requester_email if reviewer else None,
        requester_phone=row.requester_phone if reviewer else None,
        note=row.note if reviewer else None,
        received_at=row.received_at,
        acknowledged_at=row.acknowledged_at,
        acknowledge_by=requests.acknowledge_by(row),
        due_at=row.due_at,
        extended_until=row.extended_until,
        extension_reason=row.extension_reason,
        answer_by=requests.answer_by(row),
        overdue=requests.overdue(row, now),
        verified_at=row.verified_at,
        id_required=row.id_required,
        hold_reason=row.hold_reason,
        record_holds=[
            HoldOut.model_validate(hold, from_attributes=True)
            for hold in requests.record_holds(db, row.id)
        ],
        refusal_reason=row.refusal_reason,
        response=row.response,
        completed_at=row.completed_at,
        anonymise_due_at=row.anonymise_due_at,
        anonymised_at=row.anonymised_at,
        locks=[
            LockOut.model_validate(lock, from_attributes=True) for lock in purge_status(db, row.id)
        ],
        documents=[
            DocumentOut.model_validate(d, from_attributes=True)
            for d in requests.documents_of(db, row.id)
        ],
    )


# -- the person and their agent ------------------------------------------------------------


@router.post(
    "/account/data-requests", response_model=RequestOut, status_code=201, responses=THROTTLED_STEP
)
def file_own_request(
    body: RequestCreate, principal: Submitter, db: Db, now: Now, master_key: MasterKey
) -> RequestOut:
    """Ask for a copy or the deletion of one's own data; a code is mailed to the account."""
    filed = requests.file_request(
        session=db, master_key=master_key, person_id=principal.person_id, kind=body.kind, now=now
    )
    db.commit()
    return request_out(db, filed.request, now)


@router.post(
    "/account/data-requests/agent",
    response_model=RequestOut,
    status_code=201,
    responses=THROTTLED_STEP,
    openapi_extra=body_limit(AGENT_REQUEST_BODY_LIMIT),
)
def file_agent_request(
    body: AgentRequestCreate, principal: Submitter, db: Db, now: Now, master_key: MasterKey
) -> RequestOut:
    """File for another person as their authorised agent (D3); a reviewer must approve it."""
    documents = [
        (kind, doc.content_type, decode_upload(doc.data_base64, doc.content_type))
        for kind, doc in (
            (DocumentKind.AGENT_LETTER, body.letter),
            (DocumentKind.AGENT_IDENTITY, body.identity),
        )
    ]
    filed = requests.file_agent_request(
        session=db,
        master_key=master_key,
        agent_person_id=principal.person_id,
        subject_email=body.subject_email,
        kind=body.kind,
        documents=documents,
        now=now,
    )
    db.commit()
    return request_out(db, filed.request, now)


@router.get("/account/data-requests", response_model=Page[RequestOut], responses=LISTED)
def list_own_requests(
    principal: Submitter,
    db: Db,
    now: Now,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[RequestOut]:
    """The caller's requests, as subject or agent, newest first."""
    rows = requests.list_requests(db, now, person_id=principal.person_id)
    return _page(db, rows, now, cursor, limit)


def _page(
    db: Session,
    rows: list[DataSubjectRequest],
    now: datetime,
    cursor: str | None,
    limit: int,
    *,
    reviewer: bool = False,
) -> Page[RequestOut]:
    # A person's or property's requests are few, so paging the ordered list in memory is cheap.
    page = page_list(rows, lambda row: row.id, cursor, limit)
    return Page[RequestOut](
        items=[request_out(db, row, now, reviewer=reviewer) for row in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/account/data-requests/{request_id}", response_model=RequestOut)
def read_own_request(request_id: str, principal: Submitter, db: Db, now: Now) -> RequestOut:
    row = requests.own_request(session=db, person_id=principal.person_id, request_id=request_id)
    return request_out(db, row, now)


@router.post(
    "/account/data-requests/{request_id}/verify",
    response_model=RequestOut,
    responses=THROTTLED_STEP,
)
def verify_own_request(
    settings: AppSettings,
    request_id: str,
    body: VerifyIn,
    principal: Submitter,
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RequestOut:
    """Confirm the mailed code and the account details; a verified request moves on."""
    row = requests.verify_own_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        person_id=principal.person_id,
        request_id=request_id,
        code=body.code,
        email=body.email,
        display_name=body.display_name,
        now=now,
    )
    db.commit()
    return request_out(db, row, now)


@router.post(
    "/account/data-requests/{request_id}/code",
    status_code=202,
    response_class=Response,
    responses=THROTTLED_STEP,
)
def resend_code(
    request_id: str, principal: Submitter, db: Db, now: Now, master_key: MasterKey
) -> Response:
    requests.resend_own_code(
        session=db,
        master_key=master_key,
        person_id=principal.person_id,
        request_id=request_id,
        now=now,
    )
    db.commit()
    return Response(status_code=202)


@router.post(
    "/account/data-requests/{request_id}/documents",
    response_model=RequestOut,
    responses=STEP,
    openapi_extra=body_limit(GOVERNMENT_ID_BODY_LIMIT),
)
def upload_government_id(
    request_id: str,
    body: GovernmentIdIn,
    principal: Submitter,
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RequestOut:
    """Send the government ID a reviewer asked for (D2); it is sealed and deleted at close."""
    row = requests.add_own_document(
        session=db,
        master_key=master_key,
        person_id=principal.person_id,
        request_id=request_id,
        kind=body.kind,
        content_type=body.content_type,
        data_base64=body.data_base64,
        now=now,
    )
    db.commit()
    return request_out(db, row, now)


@router.post(
    "/account/data-requests/{request_id}/proceed", response_model=RequestOut, responses=STEP
)
def proceed_own_request(
    settings: AppSettings,
    request_id: str,
    principal: Submitter,
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RequestOut:
    """Check again whether a waiting deletion can run now that access was removed (D4)."""
    row = requests.proceed_own_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        person_id=principal.person_id,
        request_id=request_id,
        now=now,
    )
    db.commit()
    return request_out(db, row, now)


@router.post(
    "/account/data-requests/{request_id}/copy",
    response_class=Response,
    responses={200: {"content": {ZIP: BYTES}, "description": "The copy as a zip (D1)"}, **STEP},
)
def download_copy(
    settings: AppSettings,
    request_id: str,
    principal: Submitter,
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> Response:
    """The copy of a verified copy request; taking it completes the request."""
    row, data = requests.own_copy(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        person_id=principal.person_id,
        request_id=request_id,
        now=now,
    )
    db.commit()
    headers = {"Content-Disposition": f'attachment; filename="keyturn-data-{row.id[:8]}.zip"'}
    return Response(data, media_type=ZIP, headers=headers)


# -- the reviewer --------------------------------------------------------------------------


@router.get(
    "/properties/{property_id}/data-requests", response_model=Page[RequestOut], responses=LISTED
)
def list_property_requests(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.DSAR_REVIEW)],
    db: Db,
    now: Now,
    overdue: QueryFlag = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[RequestOut]:
    """Requests this property's reviewers handle, newest first; `overdue` keeps late ones."""
    rows = requests.list_requests(db, now, property_id=property_id, overdue_only=overdue)
    return _page(db, rows, now, cursor, limit, reviewer=True)


@router.post(
    "/properties/{property_id}/data-requests",
    response_model=RequestOut,
    status_code=201,
    responses=problem_responses(
        422, meaning={422: "The filing is incomplete (no name, no way to answer) or received later"}
    ),
)
def file_request_for_requester(
    property_id: str,
    body: FiledRequestIn,
    principal: Annotated[Principal, requires(Action.DSAR_REVIEW)],
    db: Db,
    now: Now,
) -> RequestOut:
    """File a request someone made by email, phone, post or in person, with its channel.

    Deadlines run from `received_at` (D9, now when omitted); the request waits in verifying
    until a reviewer has checked who asked and approves it (D2).
    """
    row = requests.file_for_requester(
        session=db,
        property_id=property_id,
        reviewer_id=principal.person_id,
        kind=body.kind,
        channel=body.channel,
        requester_name=body.requester_name,
        requester_email=body.requester_email,
        requester_phone=body.requester_phone,
        person_id=body.person_id,
        received_at=body.received_at,
        note=body.note,
        now=now,
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.get("/data-requests/{request_id}", response_model=RequestOut)
def read_request(request_id: str, _principal: Reviewer, db: Db, now: Now) -> RequestOut:
    return request_out(
        db, requests.reviewed_request(session=db, request_id=request_id), now, reviewer=True
    )


@router.get(
    "/data-requests/{request_id}/documents/{document_id}",
    response_class=Response,
    responses={
        200: {
            "content": {kind: BYTES for kind in sorted(DOCUMENT_TYPES)},
            "description": "The document as it was uploaded",
        }
    },
)
def read_document(
    request_id: str,
    document_id: str,
    principal: Reviewer,
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> Response:
    """One document in clear for the reviewer; every read is audited."""
    document, data = requests.read_document(
        session=db,
        master_key=master_key,
        request_id=request_id,
        document_id=document_id,
        reader_id=principal.person_id,
        now=now,
    )
    db.commit()
    return Response(data, media_type=document.content_type)


@router.post("/data-requests/{request_id}/approve", response_model=RequestOut, responses=STEP)
def approve_request(
    settings: AppSettings,
    config: Config,
    request_id: str,
    principal: Reviewer,
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RequestOut:
    """Accept an agent's documents (D3), a government ID (D2), or who asked by the public form,
    email, phone or post; a copy for someone outside their account is mailed as a link."""
    row = requests.approve_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        config=config,
        request_id=request_id,
        reviewer_id=principal.person_id,
        now=now,
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/acknowledge", response_model=RequestOut, responses=STEP)
def acknowledge_request(request_id: str, principal: Reviewer, db: Db, now: Now) -> RequestOut:
    """Record that the requester was told their request arrived (mailed if they gave an
    address; else the reviewer told them by phone or post)."""
    row = requests.acknowledge_request(
        session=db, request_id=request_id, reviewer_id=principal.person_id, now=now
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/require-id", response_model=RequestOut, responses=STEP)
def require_government_id(request_id: str, principal: Reviewer, db: Db, now: Now) -> RequestOut:
    row = requests.require_government_id(
        session=db, request_id=request_id, reviewer_id=principal.person_id, now=now
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/refuse", response_model=RequestOut, responses=STEP)
def refuse_request(
    request_id: str, body: ReasonIn, principal: Reviewer, db: Db, now: Now
) -> RequestOut:
    row = requests.refuse_request(
        session=db,
        request_id=request_id,
        reason=body.reason,
        reviewer_id=principal.person_id,
        now=now,
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/hold", response_model=RequestOut, responses=STEP)
def hold_request(
    request_id: str, body: ReasonIn, principal: Reviewer, db: Db, now: Now
) -> RequestOut:
    row = requests.hold_request(
        session=db,
        request_id=request_id,
        reason=body.reason,
        reviewer_id=principal.person_id,
        now=now,
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/release", response_model=RequestOut, responses=STEP)
def release_request(request_id: str, principal: Reviewer, db: Db, now: Now) -> RequestOut:
    row = requests.release_request(
        session=db, request_id=request_id, reviewer_id=principal.person_id, now=now
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/exempt", response_model=RequestOut, responses=STEP)
def exempt_records(
    request_id: str, body: ExemptIn, principal: Reviewer, db: Db, now: Now
) -> RequestOut:
    row = requests.exempt_records(
        session=db,
        request_id=request_id,
        event_ids=body.event_ids,
        reason=body.reason,
        reviewer_id=principal.person_id,
        now=now,
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/extend", response_model=RequestOut, responses=STEP)
def extend_request(
    request_id: str, body: ReasonIn, principal: Reviewer, db: Db, now: Now
) -> RequestOut:
    row = requests.extend_request(
        session=db,
        request_id=request_id,
        reason=body.reason,
        reviewer_id=principal.person_id,
        now=now,
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)


@router.post("/data-requests/{request_id}/proceed", response_model=RequestOut, responses=STEP)
def proceed_request(
    settings: AppSettings,
    request_id: str,
    principal: Reviewer,
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RequestOut:
    row = requests.proceed_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        request_id=request_id,
        reviewer_id=principal.person_id,
        now=now,
    )
    db.commit()
    return request_out(db, row, now, reviewer=True)
