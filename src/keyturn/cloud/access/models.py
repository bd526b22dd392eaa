"""Tables for keys (doors plus a schedule), grants of keys to people, and credentials.

Uniqueness that protects a door (one live personal code per person, no two live codes with
the same MAC) is enforced by partial unique indexes that both backends support.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from keyturn.cloud.db import (
    ID_LENGTH,
    Base,
    created_at_column,
    flag,
    foreign_id,
    id_column,
    str_enum,
)
from keyturn.cloud.properties.models import Door
from keyturn.crypto.codes import normalise_card_uid


class GrantKind(StrEnum):
    """Why a key was granted; decides who sees the grant's entries and how long it lasts."""

    STANDARD = "standard"
    GUEST = "guest"
    SERVICE_PROVIDER = "service_provider"
    COURIER = "courier"


key_doors = Table(
    "key_doors",
    Base.metadata,
    Column(
        "key_id", String(ID_LENGTH), ForeignKey("keys.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "door_id",
        String(ID_LENGTH),
        ForeignKey("doors.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Key(Base):
    """A set of doors plus a weekly schedule, granted to people.

    A unit's key (`unit_id` set) is the one a move-in grants to the unit's new resident.
    """

    __tablename__ = "keys"
    __table_args__ = (UniqueConstraint("property_id", "name"),)

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE", index=False)
    unit_id: Mapped[str | None] = foreign_id("units.id", ondelete="SET NULL")
    name: Mapped[str] = mapped_column(String(200))
    schedule_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    may_share: Mapped[bool] = flag()
    provides_doorcodes: Mapped[bool] = flag()
    created_at: Mapped[datetime] = created_at_column()

    doors: Mapped[list[Door]] = relationship(secondary=key_doors, passive_deletes=True)


class Grant(Base):
    """A key given to a person from a start to an optional end, possibly as a resident."""

    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE")
    key_id: Mapped[str] = foreign_id("keys.id", ondelete="CASCADE")
    kind: Mapped[GrantKind] = mapped_column(
        str_enum(GrantKind, "grant_kind"), default=GrantKind.STANDARD
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    resident: Mapped[bool] = flag()
    created_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None]

    key: Mapped[Key] = relationship()


class ManagedKey(Base):
    """A key a manager with the 'specific keys' permission may manage."""

    __tablename__ = "managed_keys"
    __table_args__ = (UniqueConstraint("person_id", "key_id"),)

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE", index=False)
    key_id: Mapped[str] = foreign_id("keys.id", ondelete="CASCADE")
    created_at: Mapped[datetime] = created_at_column()


class MobileKeyRegistration(Base):
    """A phone's public key registered by a person; mobile-key tokens bind to it."""

    __tablename__ = "mobile_key_registrations"

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE")
    phone_public_key: Mapped[bytes]
    phone_key_id: Mapped[str] = mapped_column(String(64), unique=True)
    registered_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None]


class Doorcode(Base):
    """A personal doorcode, stored only as a MAC under the door secret."""

    __tablename__ = "doorcodes"
    __table_args__ = (
        Index(
            "uq_doorcodes_live_door_id_code_mac",
            "door_id",
            "code_mac",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "uq_doorcodes_live_person_id_door_id",
            "person_id",
            "door_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE", index=False)
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE")
    code_mac: Mapped[bytes]
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None]


class Keycard(Base):
    """A card a person holds; its UID is unique within the property."""

    __tablename__ = "keycards"
    __table_args__ = (UniqueConstraint("property_id", "card_uid"),)

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE")
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE", index=False)
    card_uid: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = flag(default=True)
    created_at: Mapped[datetime] = created_at_column()

    @validates("card_uid")
    def _normalise_uid(self, _key: str, card_uid: str) -> str:
        """Stored as the lock reads it, so "04:a2" and "04A2" are one card (and one row)."""
        return normalise_card_uid(card_uid)


class SingleDayCode(Base):
    """The ledger of single-day codes: the code itself is derived from door, date and slot."""

    __tablename__ = "single_day_codes"
    __table_args__ = (
        UniqueConstraint("door_id", "local_date", "slot"),
        CheckConstraint("slot >= 0", name="slot"),
    )

    id: Mapped[str] = id_column()
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE", index=False)
    created_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    local_date: Mapped[date]
    slot: Mapped[int]
    guest_label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None]


class OneTimeCode(Base):
    """A short code valid for a few minutes after its first use, stored as a MAC."""

    __tablename__ = "one_time_codes"
    __table_args__ = (CheckConstraint("valid_minutes > 0", name="valid_minutes"),)

    id: Mapped[str] = id_column()
    door_id: Mapped[str] = foreign_id("doors.id", ondelete="CASCADE")
    created_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    # The person a temporary code was sent to (lost phone, A6); None for courier and visit codes.
    issued_for: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL")
    code_mac: Mapped[bytes]
    valid_minutes: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()
    first_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AccessRevision(Base):
    """A counter per scope ("door:<id>", "property:<id>" or "all") that moves whenever a
    row a door's access list is built from changes; see access.revisions."""

    __tablename__ = "access_revisions"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
