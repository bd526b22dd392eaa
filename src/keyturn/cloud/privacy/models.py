"""Tables for audit records and data-subject requests.

A request outlives the person it concerns (the request log is kept 24 months), so its
links to people are set to NULL, never cascaded, when a person row goes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyturn.cloud.db import Base, foreign_id, id_column, str_enum, utcnow


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
