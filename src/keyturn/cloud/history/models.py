"""Tables for door events, photos and log gaps, shaped for the visibility query.

Event carries the door's kind, the subject, who granted the access and whether the
subject had resident status, so the visibility rule filters one table without joins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from keyturn.cloud.db import (
    ID_LENGTH,
    Base,
    created_at_column,
    flag,
    foreign_id,
    id_column,
    str_enum,
)
from keyturn.protocol.event_kinds import EventKind
from keyturn.rules.types import CredentialType, DoorKind, Reason

EVENT_KIND_LENGTH = 32
EVENT_DETAIL_LENGTH = 500
CREDENTIAL_ID_LENGTH = 64
LOCK_PHOTO_ID_LENGTH = 64


class Event(Base):
    """One journal entry of a lock: an attempt at the door, granted or denied, or a door event.

    `kind` is "attempt" for attempts, which always carry a reason; other kinds (door_ajar,
    forced_open, battery_low, ...) keep reason NULL, so every device sequence number lives in
    one table and the cloud can tell which numbers it holds without looking anywhere else.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("device_id", "device_seq"),
        Index("ix_events_property_id_occurred_at", "property_id", "occurred_at"),
        # The retention job's work list: events not anonymised yet, oldest first per property.
        Index(
            "ix_events_live_property_id_occurred_at",
            "property_id",
            "occurred_at",
            sqlite_where=text("anonymised_at IS NULL"),
            postgresql_where=text("anonymised_at IS NULL"),
        ),
        Index("ix_events_door_id_occurred_at", "door_id", "occurred_at"),
        Index("ix_events_subject_id_occurred_at", "subject_id", "occurred_at"),
        Index("ix_events_granted_by_occurred_at", "granted_by", "occurred_at"),
        CheckConstraint("device_seq >= 0", name="device_seq"),
        CheckConstraint(
            f"kind <> '{EventKind.ATTEMPT}' OR reason IS NOT NULL", name="attempt_has_reason"
        ),
    )

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE", index=False)
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE", index=False)
    door_kind: Mapped[DoorKind] = mapped_column(str_enum(DoorKind, "door_kind"))
    device_id: Mapped[str | None] = foreign_id("devices.id", ondelete="SET NULL", index=False)
    device_seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(
        String(EVENT_KIND_LENGTH),
        default=EventKind.ATTEMPT,
        server_default=EventKind.ATTEMPT,
    )
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = created_at_column()
    clock_uncertain: Mapped[bool] = flag()
    credential_type: Mapped[CredentialType | None] = mapped_column(
        str_enum(CredentialType, "credential_type")
    )
    credential_id: Mapped[str | None] = mapped_column(String(CREDENTIAL_ID_LENGTH))
    grant_id: Mapped[str | None] = foreign_id("grants.id", ondelete="SET NULL")
    subject_id: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL", index=False)
    granted_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL", index=False)
    by_resident: Mapped[bool] = flag()
    reason: Mapped[Reason | None] = mapped_column(str_enum(Reason, "reason"))
    detail: Mapped[str | None] = mapped_column(String(EVENT_DETAIL_LENGTH))
    # The photo row points back with photos.event_id (the FK); this copy avoids a cycle.
    photo_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    anonymised_at: Mapped[datetime | None]

    @property
    def granted(self) -> bool:
        return self.reason == Reason.GRANTED


class Photo(Base):
    """A still photo taken by a lock; erasing its sealed key shreds it everywhere."""

    __tablename__ = "photos"

    id: Mapped[str] = id_column()
    event_id: Mapped[str | None] = foreign_id("events.id", ondelete="SET NULL")
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE")
    taken_at: Mapped[datetime]
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    # The lock's own name for the photo: its ciphertext is bound to it (lock.camera).
    lock_photo_id: Mapped[str | None] = mapped_column(String(LOCK_PHOTO_ID_LENGTH))
    content_type: Mapped[str] = mapped_column(String(64), default="image/jpeg")
    key_sealed: Mapped[bytes | None]
    created_at: Mapped[datetime] = created_at_column()
    erased_at: Mapped[datetime | None]


class LogGap(Base):
    """Sequence numbers of a device that the cloud will never receive, shown as log loss.

    `to_seq` NULL is open-ended: everything from `from_seq` on, recorded when a lock is
    retired (broken, stolen) with entries it may never have uploaded.
    """

    __tablename__ = "log_gaps"
    __table_args__ = (
        UniqueConstraint("device_id", "from_seq"),
        CheckConstraint("to_seq IS NULL OR from_seq <= to_seq", name="seq_range"),
    )

    id: Mapped[str] = id_column()
    device_id: Mapped[str] = foreign_id("devices.id", ondelete="CASCADE", index=False)
    door_id: Mapped[str | None] = foreign_id("doors.id", ondelete="SET NULL")
    from_seq: Mapped[int] = mapped_column(BigInteger)
    to_seq: Mapped[int | None] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = created_at_column()
    note: Mapped[str | None] = mapped_column(String(500))
