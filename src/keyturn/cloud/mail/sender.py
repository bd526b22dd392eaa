"""The outbox worker: claims due messages, sends them, and records what happened.

Any number of workers may run at once. A claim is one UPDATE that marks due rows with this
run's token (PostgreSQL picks them with FOR UPDATE SKIP LOCKED, SQLite serialises writers),
so no two workers send the same message; a claim ends by itself if its worker dies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud.db import new_id
from keyturn.cloud.mail.service import mark_suppressed
from keyturn.cloud.mail.suppression import address_hash, suppressed_hashes, suppression_key
from keyturn.cloud.mail.transports import (
    DeliveryError,
    build_email,
    open_transport,
    sender_address,
)
from keyturn.cloud.models import MailState, OutboxMessage
from keyturn.settings import Settings

MAX_ATTEMPTS = 10
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=2)
# Longer than a batch can take: a dead server fails the rest of the batch at once.
CLAIM_DURATION = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one deliver_pending run did; `last_error` is the most recent failure, if any."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suppressed: int = 0
    last_error: str | None = None

    def summary(self) -> str:
        """One line for people: the counts, then the last error."""
        text = (
            f"sent {self.sent}, will retry {self.retrying}, failed {self.failed}, "
            f"suppressed {self.suppressed}"
        )
        return f"{text}; last error: {self.last_error}" if self.last_error else text


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts: doubling, capped."""
    delay: timedelta = FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0)
    return min(delay, MAX_RETRY_DELAY)


def deliver_pending(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime, batch: int = 100
) -> DeliveryReport:
    """Send up to `batch` due messages once and record each outcome; never raises for a send.

    Suppressed addresses are settled without contacting the server; a message that keeps
    failing is retried with backoff and marked failed after MAX_ATTEMPTS attempts.
    """
    transport = open_transport(settings)
    sender = sender_address(settings)
    key = suppression_key(settings.master_key_bytes())
    token = new_id()
    with session_factory() as session:
        _give_up_abandoned(session, now)
        claimed = _claim(session, token, now, batch)
        blocked = suppressed_hashes(session, key, [m.to_address for m in claimed])
    counts = {"sent": 0, "retrying": 0, "failed": 0, "suppressed": 0}
    last_error: str | None = None
    down: DeliveryError | None = None
    with transport:
        for message in claimed:
            if address_hash(key, message.to_address) in blocked:
                mark_suppressed(message)
            elif down is not None:
                _record_failure(message, down, now)
            else:
                try:
                    transport.send(build_email(message, sender, now))
                except DeliveryError as exc:
                    down = exc if exc.server_down else None
                    _record_failure(message, exc, now)
                else:
                    message.state, message.sent_at, message.last_error = MailState.SENT, now, None
            outcome = _save(session_factory, message, token)
            counts[outcome] += 1
            if outcome in ("retrying", "failed"):
                last_error = message.last_error
    return DeliveryReport(claimed=len(claimed), last_error=last_error, **counts)


def _give_up_abandoned(session: Session, now: datetime) -> None:
    """Claims that ran out on their last attempt (the worker died): mark them failed."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.state == MailState.SENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.attempts >= MAX_ATTEMPTS,
        )
        .values(state=MailState.FAILED, claim_token=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _claim(session: Session, token: str, now: datetime, batch: int) -> list[OutboxMessage]:
    """Mark up to `batch` due messages as ours in one statement; count the attempt now."""
    due = (
        OutboxMessage.state.in_([MailState.PENDING, MailState.SENDING]),
        OutboxMessage.next_attempt_at <= now,
        OutboxMessage.attempts < MAX_ATTEMPTS,
    )
    pick = select(OutboxMessage.id).where(*due).order_by(OutboxMessage.next_attempt_at)
    pick = pick.limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(pick), *due)
        .values(
            state=MailState.SENDING,
            claim_token=token,
            next_attempt_at=now + CLAIM_DURATION,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    query = select(OutboxMessage).where(OutboxMessage.claim_token == token)
    return list(session.scalars(query.order_by(OutboxMessage.created_at)))


def _record_failure(message: OutboxMessage, error: DeliveryError, now: datetime) -> None:
    message.last_error = str(error)
    if error.permanent or message.attempts >= MAX_ATTEMPTS:
        message.state = MailState.FAILED
    else:
        message.state = MailState.PENDING
        message.next_attempt_at = now + retry_delay(message.attempts)


def _save(session_factory: sessionmaker[Session], message: OutboxMessage, token: str) -> str:
    """Write one outcome at once (a crash must not resend what went out); name the outcome."""
    with session_factory() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.claim_token == token)
            .values(
                state=message.state,
                to_address=message.to_address,
                body_text=message.body_text,
                sent_at=message.sent_at,
                next_attempt_at=message.next_attempt_at,
                last_error=message.last_error,
                claim_token=None,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    if message.state is MailState.PENDING:
        return "retrying"
    return str(message.state.value)
