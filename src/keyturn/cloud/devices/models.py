"""Tables for lock models, devices (locks) and the access-list versions sent to them.

A lock model declares its capabilities explicitly; a device records its key, firmware and
the access-list version it applied, so the cloud can show which locks are behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from keyturn.cloud.db import Base, created_at_column, foreign_id, id_column
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

    model: Mapped[DeviceModel] = relationship()
    door: Mapped[Door | None] = relationship(back_populates="device")


class AccessListVersion(Base):
    """One published version of a door's access list; locks report the version they applied."""

    __tablename__ = "access_list_versions"
    __table_args__ = (UniqueConstraint("door_id", "version"),)

    id: Mapped[str] = id_column()
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE", index=False)
    version: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()
