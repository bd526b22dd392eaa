"""Tables for portfolios, properties, units and doors.

A door's kind may change only while no lock is bound to it; that flush check is in
properties.door_kind, installed on every cloud session by keyturn.cloud.sessions.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from keyturn.cloud.db import (
    Base,
    created_at_column,
    flag,
    foreign_id,
    id_column,
    str_enum,
)
from keyturn.cloud.errors import Refusal
from keyturn.rules.types import DoorKind

if TYPE_CHECKING:
    from keyturn.cloud.devices.models import Device

DEFAULT_DOORCODE_LENGTH = 7
MIN_DOORCODE_LENGTH = 5
MAX_DOORCODE_LENGTH = 10
DEFAULT_JURISDICTION = "default"
_JURISDICTION = re.compile(r"^(default|[A-Z]{2}(-[A-Z0-9]{1,8}){0,3})$")


class DoorKindLocked(Refusal):
    """A door's kind cannot change while a lock is bound to it; unbind the lock first."""

    status = 409
    kind = "door-kind-locked"
    title = "A door's kind is fixed while a lock is bound"


class InvalidPropertySetting(Refusal, ValueError):
    """A property setting (time zone, jurisdiction) has a value Keyturn cannot use."""

    status = 422
    kind = "invalid-setting"
    title = "A property setting is not valid"


class Portfolio(Base):
    __tablename__ = "portfolios"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()

    properties: Mapped[list[Property]] = relationship(back_populates="portfolio")


class Property(Base):
    """A building: its clock, its law, its keypad policy and its authority key pair."""

    __tablename__ = "properties"
    __table_args__ = (
        CheckConstraint(
            f"doorcode_length BETWEEN {MIN_DOORCODE_LENGTH} AND {MAX_DOORCODE_LENGTH}",
            name="doorcode_length",
        ),
        CheckConstraint(
            "lockout_max_failures > 0 AND lockout_window_s > 0 AND lockout_first_cooldown_s > 0"
            " AND lockout_max_cooldown_s >= lockout_first_cooldown_s",
            name="lockout_policy",
        ),
        CheckConstraint(
            "retention_days_override IS NULL OR retention_days_override > 0",
            name="retention_days_override",
        ),
    )

    id: Mapped[str] = id_column()
    portfolio_id: Mapped[str] = foreign_id("portfolios.id", ondelete="RESTRICT")
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(32), default=DEFAULT_JURISDICTION)
    doorcode_length: Mapped[int] = mapped_column(default=DEFAULT_DOORCODE_LENGTH)
    lockout_max_failures: Mapped[int] = mapped_column(default=5)
    lockout_window_s: Mapped[int] = mapped_column(default=600)
    lockout_first_cooldown_s: Mapped[int] = mapped_column(default=60)
    lockout_max_cooldown_s: Mapped[int] = mapped_column(default=3600)
    retention_days_override: Mapped[int | None]
    require_manager_totp: Mapped[bool] = flag()
    lockdown: Mapped[bool] = flag()
    lockdown_changed_at: Mapped[datetime | None]
    authority_public_key: Mapped[bytes]
    authority_private_key_sealed: Mapped[bytes]
    created_at: Mapped[datetime] = created_at_column()

    portfolio: Mapped[Portfolio] = relationship(back_populates="properties")
    units: Mapped[list[Unit]] = relationship(back_populates="property", passive_deletes=True)
    doors: Mapped[list[Door]] = relationship(back_populates="property", passive_deletes=True)

    @validates("time_zone")
    def _check_time_zone(self, _key: str, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidPropertySetting(
                f"time zone {value!r} is not an IANA zone such as 'America/New_York'"
            ) from None
        return value

    @validates("jurisdiction")
    def _check_jurisdiction(self, _key: str, value: str) -> str:
        if not _JURISDICTION.match(value):
            raise InvalidPropertySetting(
                f"jurisdiction {value!r} is neither 'default' nor a code such as 'US-NY-NYC'"
            )
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Unit(Base):
    """An apartment: it groups residence doors and the residents who live there."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("property_id", "label"),)

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()

    property: Mapped[Property] = relationship(back_populates="units")
    doors: Mapped[list[Door]] = relationship(back_populates="unit")


class Door(Base):
    """One door of a property; its kind is fixed once a lock is bound (see DoorKindLocked)."""

    __tablename__ = "doors"
    __table_args__ = (UniqueConstraint("property_id", "name"),)

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    unit_id: Mapped[str | None] = foreign_id("units.id", ondelete="SET NULL")
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[DoorKind] = mapped_column(str_enum(DoorKind, "door_kind"))
    secret_sealed: Mapped[bytes]
    # A door-only lockdown, on top of the property's; see access.access_lists.build_access_list.
    lockdown: Mapped[bool] = flag()
    lockdown_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()

    property: Mapped[Property] = relationship(back_populates="doors")
    unit: Mapped[Unit | None] = relationship(back_populates="doors")
    device: Mapped[Device | None] = relationship(back_populates="door")
