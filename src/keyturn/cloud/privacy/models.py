"""Tables for audit records and data-subject requests.

A request outlives the person it concerns (the request log is kept 24 months), so its
links to people are set to NULL, never cascaded, when a person row goes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyturn.cloud.db import (
    ID_LENGTH,
    Base,
    created_at_column,
    flag,
    foreign_id,
    id_column,
    str_enum,
    utcnow,
)


class RequestKind(StrEnum):
    COPY = "copy"
    DELETION = "deletion"


class RequestState(StrEnum):
    """Where a data-subject request stands in its workflow."""

    RECEIVED = "received"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    WAITING_ON_PRECONDITIONS = "waiting_on_preconditions"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REFUSED = "refused"
    ON_HOLD = "on_hold"


class AuditRecord(Base):
    """Who did what to which object, and when this record itself may be removed."""

    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_records_property_id_at", "property_id", "at"),
        Index("ix_audit_records_object_type_object_id", "object_type", "object_id"),
    )

    id: Mapped[str] = id_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_person_id: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    property_id: Mapped[str | None] = foreign_id("properties.id", ondelete="SET NULL", index=False)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class DataSubjectRequest(Base):
    """A request for a copy or a deletion of a person's data, with its deadlines."""

    __tablename__ = "data_subject_requests"

    id: Mapped[str] = id_column()
    person_id: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    kind: Mapped[RequestKind] = mapped_column(str_enum(RequestKind, "request_kind"))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[RequestState] = mapped_column(
        str_enum(RequestState, "request_state"), default=RequestState.RECEIVED
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    due_at: Mapped[datetime]
    extended_until: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]
    response: Mapped[str | None] = mapped_column(Text)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    agent_person_id: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    hold_reason: Mapped[str | None] = mapped_column(Text)
    # The property whose reviewers handle the request; no foreign key, as the log outlives it.
    property_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    code_confirmed_at: Mapped[datetime | None]
    id_required: Mapped[bool] = flag()
    approved_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    # The state a hold interrupted, to resume when the hold is lifted (D7).
    held_state: Mapped[str | None] = mapped_column(String(32))
    executed_at: Mapped[datetime | None]
    # D6: entrance and common history of the person is anonymised from this instant.
    anonymise_due_at: Mapped[datetime | None] = mapped_column(index=True)
    anonymised_at: Mapped[datetime | None]
    # Who asked, as they gave it, when the request did not come from their own account: the
    # public form's name and verified address, or what a reviewer noted from a call or letter.
    requester_name: Mapped[str | None] = mapped_column(String(200))
    requester_email: Mapped[str | None] = mapped_column(String(320))
    requester_phone: Mapped[str | None] = mapped_column(String(40))
    # The person's message on the public form, or the reviewer's note on a request they filed.
    note: Mapped[str | None] = mapped_column(Text)
    # The reviewer who filed the request for someone who wrote or phoned.
    filed_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL", index=False)
    # The one-time link mailed to download the copy, for a requester outside their account.
    copy_link_id: Mapped[str | None] = foreign_id("email_links.id", ondelete="SET NULL")


class VerificationCode(Base):
    """A one-time code mailed to the account address of a request's subject, stored hashed."""

    __tablename__ = "dsar_verification_codes"

    id: Mapped[str] = id_column()
    request_id: Mapped[str] = foreign_id("data_subject_requests.id", ondelete="CASCADE")
    code_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class PublicRequest(Base):
    """A request sent on the public form, waiting for its sender to confirm their address.

    Only a confirmed one becomes a DataSubjectRequest; the code is kept as a keyed hash.
    """

    __tablename__ = "dsar_public_requests"

    id: Mapped[str] = id_column()
    kind: Mapped[RequestKind] = mapped_column(str_enum(RequestKind, "request_kind"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    # The property the sender named, when it names exactly one; else the operator routes it.
    property_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    property_named: Mapped[str] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    code_digest: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    request_id: Mapped[str | None] = foreign_id("data_subject_requests.id", ondelete="SET NULL")


class ReviewerNotice(Base):
    """One notice mailed to a property's reviewers about a request; each is sent once."""

    __tablename__ = "dsar_reviewer_notices"
    __table_args__ = (UniqueConstraint("request_id", "kind"),)

    id: Mapped[str] = id_column()
    request_id: Mapped[str] = foreign_id(
        "data_subject_requests.id", ondelete="CASCADE", index=False
    )
    kind: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime]
    recipients: Mapped[int] = mapped_column(default=0)


class RequestDocument(Base):
    """An agent's signed letter or proof of identity, or a government ID, sealed at rest.

    Deleted when the request closes (completed or refused).
    """

    __tablename__ = "dsar_documents"

    id: Mapped[str] = id_column()
    request_id: Mapped[str] = foreign_id("data_subject_requests.id", ondelete="CASCADE")
    kind: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(100))
    sealed: Mapped[bytes]
    created_at: Mapped[datetime] = created_at_column()


class RecordHold(Base):
    """A legal hold exempting one named record from a request, with its reason (D7)."""

    __tablename__ = "dsar_record_holds"
    __table_args__ = (UniqueConstraint("request_id", "object_type", "object_id"),)

    id: Mapped[str] = id_column()
    request_id: Mapped[str] = foreign_id(
        "data_subject_requests.id", ondelete="CASCADE", index=False
    )
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()


class LockPurge(Base):
    """One purge command for one lock (D8): queued with the deletion, confirmed by the lock."""

    __tablename__ = "lock_purges"
    __table_args__ = (UniqueConstraint("request_id", "device_id"),)

    id: Mapped[str] = id_column()
    request_id: Mapped[str] = foreign_id(
        "data_subject_requests.id", ondelete="CASCADE", index=False
    )
    device_id: Mapped[str] = foreign_id("devices.id", ondelete="CASCADE")
    subject: Mapped[str] = mapped_column(String(64))
    queued_at: Mapped[datetime] = created_at_column()
    confirmed_at: Mapped[datetime | None]
