"""Request and response bodies of the data-subject request API.

Documents travel as base64 in JSON, so the API needs no multipart parser.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from keyturn.cloud.fields import (
    EXAMPLE_EVENT_ID,
    EXAMPLE_REQUEST_ID,
    AwareInstant,
    Email,
    Id,
    Name,
    example_config,
    strict_config,
)
from keyturn.cloud.models import RequestKind, RequestState
from keyturn.cloud.privacy.requests import ReviewerChannel
from keyturn.cloud.privacy.verification import MAX_DOCUMENT_BASE64, DocumentKind

# A one-page blank PDF and a 1x1 PNG: small, but whole documents a reviewer could open.
EXAMPLE_PDF = (
    "JVBERi0xLjQKMSAwIG9iago8PC9UeXBlL0NhdGFsb2cvUGFnZXMgMiAwIFI+PgplbmRvYmoKMiAwIG9iago8PC9UeX"
    "BlL1BhZ2VzL0tpZHNbMyAwIFJdL0NvdW50IDE+PgplbmRvYmoKMyAwIG9iago8PC9UeXBlL1BhZ2UvUGFyZW50IDIg"
    "MCBSL01lZGlhQm94WzAgMCA3MiA3Ml0+PgplbmRvYmoKeHJlZgowIDQKMDAwMDAwMDAwMCA2NTUzNSBmIAowMDAwMD"
    "AwMDA5IDAwMDAwIG4gCjAwMDAwMDAwNTQgMDAwMDAgbiAKMDAwMDAwMDEwNSAwMDAwMCBuIAp0cmFpbGVyCjw8L1Np"
    "emUgNC9Sb290IDEgMCBSPj4Kc3RhcnR4cmVmCjE2OAolJUVPRgo="
)
EXAMPLE_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR42mP4DwABAQEAHLCMmQAAAABJRU5ErkJggg=="
)
EXAMPLE_DOCUMENT = {"content_type": "application/pdf", "data_base64": EXAMPLE_PDF}
EXAMPLE_IMAGE = {"content_type": "image/png", "data_base64": EXAMPLE_PNG}
# Room for the rest of a body around its documents (kind, content types, an address).
BODY_ENVELOPE = 64 * 1024


class RequestCreate(BaseModel):
    model_config = strict_config({"kind": "copy"})
    kind: RequestKind


class DocumentIn(BaseModel):
    model_config = strict_config(EXAMPLE_DOCUMENT)
    content_type: str = Field(max_length=100, examples=["application/pdf"])
    data_base64: str = Field(max_length=MAX_DOCUMENT_BASE64)


class AgentRequestCreate(BaseModel):
    """An authorised agent's request: the person's signed letter and the agent's ID (D3)."""

    model_config = strict_config(
        {
            "kind": "deletion",
            "subject_email": "bo@example.org",
            "letter": EXAMPLE_DOCUMENT,
            "identity": EXAMPLE_IMAGE,
        }
    )
    kind: RequestKind
    subject_email: str = Field(max_length=320)
    letter: DocumentIn
    identity: DocumentIn


# The body limits of the routes that take one document or two.
GOVERNMENT_ID_BODY_LIMIT = MAX_DOCUMENT_BASE64 + BODY_ENVELOPE
AGENT_REQUEST_BODY_LIMIT = 2 * MAX_DOCUMENT_BASE64 + BODY_ENVELOPE


class FiledRequestIn(BaseModel):
    """A request someone made by email, phone, post or in person, as a reviewer files it."""

    model_config = strict_config(
        {
            "kind": "copy",
            "channel": "phone",
            "requester_name": "Ana Pérez",
            "requester_phone": "+1 415 555 0134",
            "received_at": "2026-03-02T09:00:00Z",
            "note": "Called the front desk; courier for the parcel service until May.",
        }
    )
    kind: RequestKind
    channel: ReviewerChannel
    requester_name: Name
    requester_email: Email | None = None
    requester_phone: str | None = Field(default=None, max_length=40)
    person_id: Id | None = None
    received_at: AwareInstant | None = None
    note: str | None = Field(default=None, max_length=2000)


class GovernmentIdIn(DocumentIn):
    model_config = strict_config({**EXAMPLE_IMAGE, "kind": "government_id"})

    kind: DocumentKind = DocumentKind.GOVERNMENT_ID


class VerifyIn(BaseModel):
    """The mailed code plus the account's details, which must match (D2)."""

    model_config = strict_config(
        {"code": "738204", "email": "bo@example.org", "display_name": "Bo"}
    )
    code: str = Field(min_length=1, max_length=16)
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=200)


class ReasonIn(BaseModel):
    model_config = strict_config({"reason": "Litigation hold requested by counsel on 2026-03-01"})
    reason: str = Field(min_length=1, max_length=2000)


class ExemptIn(BaseModel):
    model_config = strict_config(
        {
            "event_ids": [EXAMPLE_EVENT_ID],
            "reason": "Evidence in an open police report",
        }
    )
    event_ids: list[str] = Field(min_length=1, max_length=1000)
    reason: str = Field(min_length=1, max_length=2000)


class LockOut(BaseModel):
    device_id: str
    door_name: str | None
    state: str
    queued_at: datetime
    confirmed_at: datetime | None
    last_sync_at: datetime | None


class HoldOut(BaseModel):
    object_type: str
    object_id: str
    reason: str
    created_at: datetime


class DocumentOut(BaseModel):
    id: str
    kind: str
    content_type: str
    created_at: datetime


class RequestOut(BaseModel):
    """A request with its deadlines, holds, blockers and per-lock purge status."""

    model_config = example_config(
        {
            "id": EXAMPLE_REQUEST_ID,
            "kind": "copy",
            "channel": "app",
            "state": "verifying",
            "by_agent": False,
            "identity": "code not yet confirmed",
            "match": "matches person Bo (6f1c0a4e-0000-4000-8000-000000000002)",
            "person_id": "6f1c0a4e-0000-4000-8000-000000000002",
            "requester_name": None,
            "requester_email": None,
            "requester_phone": None,
            "note": None,
            "received_at": "2026-03-02T09:00:00Z",
            "acknowledged_at": "2026-03-02T09:00:00Z",
            "acknowledge_by": "2026-03-16T09:00:00Z",
            "due_at": "2026-04-01T09:00:00Z",
            "extended_until": None,
            "extension_reason": None,
            "answer_by": "2026-04-01T09:00:00Z",
            "overdue": [],
            "verified_at": None,
            "id_required": False,
            "hold_reason": None,
            "record_holds": [],
            "refusal_reason": None,
            "response": None,
            "completed_at": None,
            "anonymise_due_at": None,
            "anonymised_at": None,
            "locks": [],
            "documents": [],
        }
    )

    id: str
    kind: RequestKind
    channel: str
    state: RequestState
    by_agent: bool
    identity: str = Field(description="How far who asked has been proven (D2, D3)")
    match: str | None = Field(
        description='For the reviewer: "matches person NAME (ID)" or "no known person"'
    )
    person_id: str | None
    requester_name: str | None
    requester_email: str | None
    requester_phone: str | None
    note: str | None
    received_at: datetime
    acknowledged_at: datetime | None
    acknowledge_by: datetime
    due_at: datetime
    extended_until: datetime | None
    extension_reason: str | None
    answer_by: datetime
    overdue: list[str]
    verified_at: datetime | None
    id_required: bool
    hold_reason: str | None
    record_holds: list[HoldOut]
    refusal_reason: str | None
    response: str | None
    completed_at: datetime | None
    anonymise_due_at: datetime | None
    anonymised_at: datetime | None
    locks: list[LockOut]
    documents: list[DocumentOut]
