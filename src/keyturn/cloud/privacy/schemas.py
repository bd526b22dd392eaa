"""Request and response bodies of the data-subject request API.

Documents travel as base64 in JSON, so the API needs no multipart parser.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from keyturn.cloud.privacy.models import RequestKind, RequestState
from keyturn.cloud.privacy.verification import DocumentKind

_STRICT = ConfigDict(extra="forbid")


class RequestCreate(BaseModel):
    model_config = _STRICT
    kind: RequestKind


class DocumentIn(BaseModel):
    model_config = _STRICT
    content_type: str = Field(max_length=100, examples=["application/pdf"])
    data_base64: str = Field(max_length=7_000_000)


class AgentRequestCreate(BaseModel):
    """An authorised agent's request: the person's signed letter and the agent's ID (D3)."""

    model_config = _STRICT
    kind: RequestKind
    subject_email: str = Field(max_length=320)
    letter: DocumentIn
    identity: DocumentIn


class GovernmentIdIn(DocumentIn):
    kind: DocumentKind = DocumentKind.GOVERNMENT_ID


class VerifyIn(BaseModel):
    """The mailed code plus the account's details, which must match (D2)."""

    model_config = _STRICT
    code: str = Field(min_length=1, max_length=16)
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=200)


class ReasonIn(BaseModel):
    model_config = _STRICT
    reason: str = Field(min_length=1, max_length=2000)


class ExemptIn(BaseModel):
    model_config = _STRICT
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

    id: str
    kind: RequestKind
    channel: str
    state: RequestState
    by_agent: bool
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


class RequestList(BaseModel):
    items: list[RequestOut]
