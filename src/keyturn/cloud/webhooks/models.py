"""Tables for webhook subscriptions and their queued deliveries.

A delivery names its event rather than copying it: the body is built when it is sent, so
an event anonymised or deleted meanwhile (retention, data requests) is never sent stale.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyturn.cloud.db import Base, created_at_column, foreign_id, id_column

URL_LENGTH = 2048
DESCRIPTION_LENGTH = 200
ERROR_LENGTH = 500


class WebhookSubscription(Base):
    """A URL a manager subscribed to the door events of one property.

    The signing secret is shown once and rests sealed under the master key, bound to the
    subscription's id; the subscription sees what its creator may see, and no more.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    created_by: Mapped[str] = foreign_id("people.id", ondelete="CASCADE")
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_LENGTH))
    secret_sealed: Mapped[bytes]
    created_at: Mapped[datetime] = created_at_column()


class WebhookDelivery(Base):
    """One event to send to one subscription, with its attempts and final state."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_pending", "delivered_at", "abandoned_at", "next_attempt_at"),
    )

    id: Mapped[str] = id_column()
    subscription_id: Mapped[str] = foreign_id(
        "webhook_subscriptions.id", ondelete="CASCADE", index=False
    )
    event_id: Mapped[str] = foreign_id("events.id", ondelete="CASCADE")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    created_at: Mapped[datetime] = created_at_column()
