"""Tables for people, accounts, portfolio profiles, role memberships, manager permissions and
what the PMS sync keeps (its residencies and the reviews of partial matches).

One login account serves a human everywhere, but everything a portfolio can change about that
human (the name it knows them by, minor status, consent, suspension) lives in their profile
with that portfolio, so no portfolio's act reaches another's. Deleting a person's data blanks
their contact details rather than dropping the row, so history that must be kept for a while
can still be anonymised consistently.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ColumnElement, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from keyturn.cloud.db import (
    Base,
    created_at_column,
    flag,
    foreign_id,
    id_column,
    str_enum,
)
from keyturn.rules.types import Permission, Role


class Person(Base):
    """A human known to Keyturn; email is unique (case-folded) while it is kept.

    `display_name` is the name the person was first known by; each portfolio keeps its own
    in the person's Profile there.
    """

    __tablename__ = "people"

    id: Mapped[str] = id_column()
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()

    account: Mapped[Account | None] = relationship(back_populates="person", passive_deletes=True)
    memberships: Mapped[list[RoleMembership]] = relationship(
        back_populates="person", passive_deletes=True, foreign_keys="RoleMembership.person_id"
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str | None) -> str | None:
        return value.strip().lower() if value else None


class Account(Base):
    """How a person logs in: password hash, sealed TOTP secret, disabled or suspended."""

    __tablename__ = "accounts"

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE", unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    totp_secret_sealed: Mapped[bytes | None]
    disabled: Mapped[bool] = flag()
    created_at: Mapped[datetime] = created_at_column()

    person: Mapped[Person] = relationship(back_populates="account")


class Profile(Base):
    """A person as one portfolio knows them: everything that portfolio may change about them.

    Suspension (A6) and the bars act in this portfolio only: phones registered before
    `phones_barred_before` get no mobile key here and its locks refuse them; sign-ins made
    before `sign_ins_barred_before` may do nothing at its properties.
    """

    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("person_id", "portfolio_id"),)

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE", index=False)
    portfolio_id: Mapped[str] = foreign_id("portfolios.id", ondelete="CASCADE")
    display_name: Mapped[str] = mapped_column(String(200))
    is_minor: Mapped[bool] = flag()
    # Consent to collect reference data (R5, R7): when, and the document for a written one.
    guardian_consent_at: Mapped[datetime | None]
    guardian_consent_document: Mapped[str | None] = mapped_column(String(200))
    nyc_consent_at: Mapped[datetime | None]
    nyc_consent_document: Mapped[str | None] = mapped_column(String(200))
    suspended_at: Mapped[datetime | None]
    phones_barred_before: Mapped[datetime | None]
    sign_ins_barred_before: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class RoleMembership(Base):
    """A person's role at one property; a resident's membership names their unit.

    A resident's membership is their residency: it may carry the lease's `starts_at` and
    `ends_at`, and `ended_at` records when the move-out took effect (see people.residency).
    An ended membership stays for the record but gives no role: every role look-up reads
    only memberships in force (`in_force`).
    """

    __tablename__ = "role_memberships"
    __table_args__ = (
        Index(
            "uq_role_memberships_live_person_id_property_id_role_unit_id",
            "person_id",
            "property_id",
            "role",
            "unit_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        CheckConstraint("role <> 'resident' OR unit_id IS NOT NULL", name="resident_has_unit"),
    )

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE", index=False)
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    unit_id: Mapped[str | None] = foreign_id("units.id", ondelete="CASCADE")
    invited_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL", index=False)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()

    person: Mapped[Person] = relationship(back_populates="memberships", foreign_keys=[person_id])

    @classmethod
    def in_force(cls) -> ColumnElement[bool]:
        """The condition a membership that still gives its role meets (not ended)."""
        return cls.ended_at.is_(None)


class RolePermission(Base):
    """One extra power a property manager holds at one property."""

    __tablename__ = "role_permissions"
    __table_args__ = (UniqueConstraint("person_id", "property_id", "permission"),)

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE", index=False)
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    permission: Mapped[Permission] = mapped_column(str_enum(Permission, "permission"))
    granted_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL", index=False)
    created_at: Mapped[datetime] = created_at_column()


class ReviewState(StrEnum):
    """A PMS partial match's review: waiting, or decided by a manager."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class PmsLink(Base):
    """A residency the PMS sync created, under the key the PMS knows the lease by.

    Only residencies linked here are ever changed or ended by the sync; a resident placed by
    hand has no link.
    """

    __tablename__ = "pms_links"
    __table_args__ = (UniqueConstraint("membership_id"),)

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE")
    external_key: Mapped[str] = mapped_column(String(220))
    membership_id: Mapped[str] = foreign_id("role_memberships.id", ondelete="CASCADE", index=False)
    created_at: Mapped[datetime] = created_at_column()


class PmsReview(Base):
    """A PMS lease whose email belongs to someone this portfolio knows by another name.

    Nothing happens for the lease until a manager accepts (the sync then moves the known
    person in) or rejects it (the sync leaves it alone while the PMS keeps that name).
    """

    __tablename__ = "pms_reviews"
    __table_args__ = (UniqueConstraint("property_id", "external_key", "pms_name"),)

    id: Mapped[str] = id_column()
    property_id: Mapped[str] = foreign_id("properties.id", ondelete="CASCADE", index=False)
    external_key: Mapped[str] = mapped_column(String(220))
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE")
    email: Mapped[str] = mapped_column(String(320))
    pms_name: Mapped[str] = mapped_column(String(200))
    known_name: Mapped[str] = mapped_column(String(200))
    unit_label: Mapped[str] = mapped_column(String(200))
    state: Mapped[ReviewState] = mapped_column(
        str_enum(ReviewState, "pms_review_state"), default=ReviewState.PENDING
    )
    created_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL", index=False)
