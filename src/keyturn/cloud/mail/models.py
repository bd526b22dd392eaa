"""The outbox table: messages waiting to be sent, and what happened when we tried.

Messages to a person are deleted with that person, so communications stop on deletion.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyturn.cloud.db import Base, created_at_column, foreign_id, id_column


class OutboxMessage(Base):
    """One email, pending until sent_at is set."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_sent_at_created_at", "sent_at", "created_at"),)

    id: Mapped[str] = id_column()
    person_id: Mapped[str | None] = foreign_id("people.id", ondelete="CASCADE")
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
