"""Login throttling per account and per client address, kept in the database; other public
attempts (a data request from the public form) are counted the same way, each in its scope.

Failures are rows, so every API process sees the same counts. Each attempt is counted and
recorded as a failure before its password is checked, one attempt per account and address
at a time, so concurrent attempts cannot all pass the check together; a success clears the
account's failures, and rows older than the window are deleted as new ones arrive.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from keyturn.cloud.auth import opaque
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import Throttled
from keyturn.cloud.models import LoginFailure


def reserve(
    session: Session, config: AuthConfig, email_digest: str, address: str, now: datetime
) -> str:
    """Count one attempt against both limits and commit it as a failure; its id is returned.

    Raises Throttled (with the seconds to wait) when either limit is already reached. Attempts
    for the same account or address take turns here, so at most the limit of them get past.
    The caller `forgive`s the attempt if it turns out not to count, or `clear`s on success.
    """
    return count_attempt(
        session,
        scope="login",
        email_digest=email_digest,
        address=address,
        per_account=config.max_failures_per_account,
        per_address=config.max_failures_per_address,
        window=timedelta(seconds=config.failure_window_s),
        now=now,
    )


def count_attempt(
    session: Session,
    *,
    scope: str,
    email_digest: str,
    address: str,
    per_account: int,
    per_address: int,
    window: timedelta,
    now: datetime,
) -> str:
    """`reserve` for any attempt that is limited per address and per email: `scope` keeps the
    counts of one kind of attempt (login, a public data request) apart from every other's."""
    if scope != "login":
        email_digest = opaque.digest(f"{scope}:{email_digest}")
        address = opaque.digest(f"{scope}:{address}")
    _take_turn(session, [f"{scope}-account:{email_digest}", f"{scope}-address:{address}"])
    # On SQLite this first write waits for the database's single writer: the turn there.
    session.execute(
        delete(LoginFailure).where(
            or_(LoginFailure.email_digest == email_digest, LoginFailure.client_address == address),
            LoginFailure.at < now - window,
        )
    )
    by_account = LoginFailure.email_digest == email_digest
    by_address = LoginFailure.client_address == address
    waits = (
        _wait(session, by_account, per_account, window, now),
        _wait(session, by_address, per_address, window, now),
    )
    longest = max(waits)
    if longest > 0:
        raise Throttled(longest)
    attempt = LoginFailure(email_digest=email_digest, client_address=address, at=now)
    session.add(attempt)
    session.commit()
    return attempt.id


def forgive(session: Session, attempt_id: str) -> None:
    """Take back an attempt that does not count as a failure."""
    session.execute(delete(LoginFailure).where(LoginFailure.id == attempt_id))


def _take_turn(session: Session, names: list[str]) -> None:
    """Wait until no other transaction holds these names, and hold them until this one ends."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(names):
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))


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
