"""Tables for login sessions, API tokens, login throttling, emailed one-time links and TOTP state.

Every secret a client holds (session id, token, link) is stored only as its SHA-256 digest;
the secrets are 256-bit random values, so a fast hash is as safe as a slow one here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from keyturn.cloud.db import Base, created_at_column, flag, foreign_id, id_column, str_enum

DIGEST_LENGTH = 64
ADDRESS_LENGTH = 64


class LinkPurpose(StrEnum):
    """What an emailed one-time link lets its holder do."""

    PASSWORD_RESET = "password_reset"  # noqa: S105 - a label
    INVITATION = "invitation"
    DATA_COPY = "data_copy"  # one download of the copy a data request asked for (D1)


class AuthSession(Base):
    """A cookie session: the cookie holds a random id, the row holds its digest and expiry."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = foreign_id("accounts.id", ondelete="CASCADE")
    secret_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    csrf_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH))
    totp_satisfied: Mapped[bool] = flag()
    client_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    created_at: Mapped[datetime] = created_at_column()
    # When the session was last used, to within SESSION_TOUCH_EVERY; the idle timeout's clock.
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiToken(Base):
    """A scoped bearer token for API clients, shown once at creation and revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = foreign_id("accounts.id", ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(100))
    secret_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    scopes: Mapped[list[str]]
    totp_satisfied: Mapped[bool] = flag()
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """One failed login, kept for the throttling window; shared by every API process."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_digest_at", "email_digest", "at"),
        Index("ix_login_failures_client_address_at", "client_address", "at"),
    )

    id: Mapped[str] = id_column()
    # The digest of the case-folded email, so the table holds no address in clear text.
    email_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH))
    client_address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    at: Mapped[datetime]


class EmailLink(Base):
    """A one-time link sent by email (password reset, invitation): single use, expiring."""

    __tablename__ = "email_links"

    id: Mapped[str] = id_column()
    person_id: Mapped[str] = foreign_id("people.id", ondelete="CASCADE")
    purpose: Mapped[LinkPurpose] = mapped_column(str_enum(LinkPurpose, "link_purpose"))
    secret_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    created_by: Mapped[str | None] = foreign_id("people.id", ondelete="SET NULL", index=False)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TotpFactor(Base):
    """TOTP state beside Account.totp_secret_sealed: a pending secret and the last used step.

    The pending secret becomes the account's secret once a code confirms it; the last step
    makes every code single use.
    """

    __tablename__ = "totp_factors"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = foreign_id("accounts.id", ondelete="CASCADE", unique=True)
    pending_secret_sealed: Mapped[bytes | None]
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
