"""Login throttling per account and per client address, kept in the database.

Failures are rows, so every API process sees the same counts; a success clears the account's
failures, and rows older than the window are deleted as new ones arrive.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import Throttled
from keyturn.cloud.auth.models import LoginFailure


def check(
    session: Session, config: AuthConfig, email_digest: str, address: str, now: datetime
) -> None:
    """Raise Throttled (with the seconds to wait) when either limit is reached."""
    window = timedelta(seconds=config.failure_window_s)
    by_account = LoginFailure.email_digest == email_digest
    by_address = LoginFailure.client_address == address
    waits = (
        _wait(session, by_account, config.max_failures_per_account, window, now),
        _wait(session, by_address, config.max_failures_per_address, window, now),
    )
    longest = max(waits)
    if longest > 0:
        raise Throttled(longest)


def record_failure(
    session: Session, config: AuthConfig, email_digest: str, address: str, now: datetime
) -> None:
    """Store one failure and forget this key's failures that fell out of the window."""
    cutoff = now - timedelta(seconds=config.failure_window_s)
    session.execute(
        delete(LoginFailure).where(
            or_(LoginFailure.email_digest == email_digest, LoginFailure.client_address == address),
            LoginFailure.at < cutoff,
        )
    )
    session.add(LoginFailure(email_digest=email_digest, client_address=address, at=now))


def clear(session: Session, email_digest: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.email_digest == email_digest))


def _wait(
    session: Session, match: ColumnElement[bool], limit: int, window: timedelta, now: datetime
) -> int:
    """Seconds until fewer than `limit` failures matching remain in the window (0: none)."""
    recent = list(
        session.execute(
            select(LoginFailure.at)
            .where(match, LoginFailure.at > now - window)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        ).scalars()
    )
    if len(recent) < limit:
        return 0
    released_at = recent[-1] + window
    return max(1, math.ceil((released_at - now).total_seconds()))
