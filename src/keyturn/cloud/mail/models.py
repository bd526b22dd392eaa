"""The outbox table (messages and what happened when we tried to send them) and the
suppression list (keyed hashes of addresses that must never receive mail again).

Messages to a person are deleted with that person, so communications stop on deletion.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyturn.cloud.db import (
    ID_LENGTH,
    Base,
    created_at_column,
    foreign_id,
    id_column,
    str_enum,
    utcnow,
)

ADDRESS_HASH_LENGTH = 64


class MailState(StrEnum):
    """Where an outbox message stands; only pending and sending ones may still go out."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class OutboxMessage(Base):
    """One email; a worker claims it, sends it, and records the outcome of every attempt.

    `next_attempt_at` is when it is due: for a pending message the retry time, for a claimed
    (sending) one the end of the claim, after which another worker may take it over.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[str] = id_column()
    person_id: Mapped[str | None] = foreign_id("people.id", ondelete="CASCADE")
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    state: Mapped[MailState] = mapped_column(
        str_enum(MailState, "mail_state"), default=MailState.PENDING
    )
    created_at: Mapped[datetime] = created_at_column()
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class MailSuppression(Base):
    """An address nothing may be sent to, kept only as a keyed hash (hex HMAC-SHA256).

    The key is derived from the master key, so the list cannot be checked against guessed
    addresses by someone holding only the database.
    """

    __tablename__ = "mail_suppressions"

    address_hash: Mapped[str] = mapped_column(String(ADDRESS_HASH_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
