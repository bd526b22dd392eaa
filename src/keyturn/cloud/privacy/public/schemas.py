"""Bodies of the public data-request form and of its confirmation."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from keyturn.cloud.fields import (
    EXAMPLE_REQUEST_ID,
    Email,
    Name,
    example_config,
    strict_config,
)
from keyturn.cloud.models import RequestKind, RequestState


class PublicRequestIn(BaseModel):
    """Who asks, for what, and which building: its name as the sender knows it, or its id."""

    model_config = strict_config(
        {
            "email": "ana@example.org",
            "name": "Ana Pérez",
            "kind": "deletion",
            "property": "12 Elm St",
            "message": "I delivered parcels there until May.",
        }
    )
    email: Email
    name: Name
    kind: RequestKind
    property: str = Field(min_length=1, max_length=200, pattern=r"\S")
    message: str | None = Field(default=None, max_length=2000)


class PublicRequestSent(BaseModel):
    """The same answer for every sender: where to send the mailed code, and until when."""

    model_config = example_config(
        {
            "id": EXAMPLE_REQUEST_ID,
            "detail": "A code was sent to the address given; confirm the request with it.",
            "code_expires_at": "2026-03-02T09:15:00Z",
        }
    )
    id: str
    detail: str
    code_expires_at: datetime


class PublicCodeIn(BaseModel):
    model_config = strict_config({"code": "73820419"})
    code: str = Field(min_length=1, max_length=16)


class PublicRequestConfirmed(BaseModel):
    """The confirmed request: its dates, and that a reviewer now checks it."""

    model_config = example_config(
        {
            "id": EXAMPLE_REQUEST_ID,
            "kind": "deletion",
            "state": "verifying",
            "received_at": "2026-03-02T09:00:00Z",
            "answer_by": "2026-04-16T09:00:00Z",
        }
    )
    id: str
    kind: RequestKind
    state: RequestState
    received_at: datetime
    answer_by: datetime


class CopyLinkIn(BaseModel):
    """The secret of the one-time link mailed for a copy (the part after `#token=`)."""

    model_config = strict_config({"token": "8J0u2f3eQk9Qm3n1yQwYtq0i6mN4Yb7a1w2s3d4f5g6"})
    token: str = Field(min_length=1, max_length=200)
