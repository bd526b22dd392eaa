"""Tables for lock models, devices (locks) and the access-list versions sent to them.

A lock model declares its capabilities explicitly; a device records its key, firmware and
the access-list version it applied, so the cloud can show which locks are behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from keyturn.cloud.db import COUNTER, Base, created_at_column, foreign_id, id_column
from keyturn.rules.types import Capability

if TYPE_CHECKING:
    from keyturn.cloud.properties.models import Door


class DeviceModel(Base):
    """A lock model and what it can do (camera, keypad, card reader, BLE, mechanical key)."""

    __tablename__ = "device_models"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    capabilities: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = created_at_column()

    @validates("capabilities")
    def _check_capabilities(self, _key: str, value: list[str]) -> list[str]:
        return sorted({Capability(item).value for item in value})

    def has(self, capability: Capability) -> bool:
        return capability.value in self.capabilities


class Device(Base):
    """One lock, bound to at most one door of its property."""

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint(
            "battery_pct IS NULL OR (battery_pct >= 0 AND battery_pct <= 100)",
            name="battery_pct",
        ),
        CheckConstraint("firmware_version >= 0", name="firmware_version"),
        CheckConstraint("applied_access_list_version >= 0", name="applied_access_list_version"),
        CheckConstraint("stored_through_seq >= 0", name="stored_through_seq"),
    )

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    door_id: Mapped[str | None] = foreign_id("doors.id", ondelete="SET NULL", unique=True)
    model_id: Mapped[str] = foreign_id("device_models.id", ondelete="RESTRICT")
    public_key: Mapped[bytes]
    firmware_version: Mapped[int] = mapped_column(default=0)
    provisioned_at: Mapped[datetime] = created_at_column()
    last_sync_at: Mapped[datetime | None]
    applied_access_list_version: Mapped[int] = mapped_column(default=0)
    battery_pct: Mapped[int | None]
    clock_drift_s: Mapped[float | None]
    # The per-device key that encrypts sync frames, sealed under the master key.
    sync_key_sealed: Mapped[bytes]
    # Every journal entry up to here is stored or inside a recorded log gap.
    stored_through_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The lock's clock reading of the newest uplink whose status was applied (replay guard).
    last_uplink_sent_ms: Mapped[int | None] = mapped_column(BigInteger)
    retired_at: Mapped[datetime | None]
    retired_reason: Mapped[str | None] = mapped_column(String(500))
    # Where a phone at the door reaches the lock's near-field service, as the lock last said.
    near_field_url: Mapped[str | None] = mapped_column(String(300))

    model: Mapped[DeviceModel] = relationship()
    door: Mapped[Door | None] = relationship(back_populates="device")


class ProvisioningToken(Base):
    """A one-time enrolment token for a lock at one door; only its SHA-256 is stored."""

    __tablename__ = "provisioning_tokens"

    id: Mapped[str] = id_column()
    token_hash: Mapped[bytes] = mapped_column(unique=True)
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE")
    model_id: Mapped[str] = foreign_id("device_models.id", ondelete="CASCADE")
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    device_id: Mapped[str | None] = foreign_id("devices.id", ondelete="SET NULL")


class AccessListVersion(Base):
    """One published version of a door's access list; locks report the version they applied.

    `content_hash` is the SHA-256 of the list's canonical encoding (version and issue time
    left out), so a new version is published only when the effective list changes; `content`
    keeps that encoding while the version can still serve as the base of a delta. The newest
    version is reused without a rebuild while the door's access revision is `built_revision`
    and the time is within [`checked_at`, `changes_at`) (see devices.service).
    """

    __tablename__ = "access_list_versions"
    # The next version is the newest plus one, so two publishers racing would take the same.
    __table_args__ = (UniqueConstraint("door_id", "version", info={COUNTER: True}),)

    id: Mapped[str] = id_column()
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE", index=False)
    version: Mapped[int]
    content_hash: Mapped[bytes]
    content: Mapped[bytes | None]
    created_at: Mapped[datetime] = created_at_column()
    # The last check that this is still the door's list: the door's access revision then,
    # the instant of the check, and the instant after which time alone may change the list.
    built_revision: Mapped[int | None] = mapped_column(BigInteger)
    checked_at: Mapped[datetime | None]
    changes_at: Mapped[datetime | None]
