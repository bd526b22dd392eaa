"""Queueing email in the outbox, in the caller's transaction, and reading the outbox back.

Nothing here talks to a mail server: deliver_pending in sender.py does, after commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.db import new_id, utcnow
from keyturn.cloud.mail.addresses import check_address, check_body, check_subject
from keyturn.cloud.mail.suppression import SUPPRESSION_KEY_INFO, suppressed_hashes
from keyturn.cloud.models import MailState, OutboxMessage

MIN_ID_PREFIX = 4


class MessageNotFound(LookupError):
    """No outbox message has that id (or the id prefix matches none or several)."""


def enqueue_mail(
    session: Session,
    to_address: str,
    subject: str,
    body_text: str,
    person_id: str | None = None,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction; it is sent after commit.

    Raises InvalidAddress, UnsafeHeader or InvalidMail (all ValueError) on bad input. When
    the session carries the suppression key (use_suppression_key) and the address is on
    the list, the message is stored as "suppressed" without its address or body and is
    never sent; otherwise deliver_pending makes the same check before sending.
    """
    address = check_address(to_address)
    message = OutboxMessage(
        id=new_id(),
        person_id=person_id,
        to_address=address,
        subject=check_subject(subject),
        body_text=check_body(body_text),
        state=MailState.PENDING,
        created_at=utcnow(),
        next_attempt_at=utcnow(),
        attempts=0,
    )
    key = session.info.get(SUPPRESSION_KEY_INFO)
    if key is not None and suppressed_hashes(session, key, [address]):
        mark_suppressed(message)
    session.add(message)
    return message


def mark_suppressed(message: OutboxMessage) -> None:
    """Settle a message as never to be sent, dropping the address and body it carried."""
    message.state = MailState.SUPPRESSED
    message.to_address = ""
    message.body_text = ""
    message.claim_token = None
    message.last_error = None


def list_messages(
    session: Session, *, state: MailState | None = None, limit: int = 50
) -> Sequence[OutboxMessage]:
    """The newest outbox messages first, optionally only those in one state."""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
    if state is not None:
        query = query.where(OutboxMessage.state == state)
    return session.scalars(query.limit(limit)).all()


def find_message(session: Session, id_or_prefix: str) -> OutboxMessage:
    """The message with this id, or with the one id starting with this prefix (4+ chars)."""
    wanted = id_or_prefix.strip().lower()
    exact = session.get(OutboxMessage, wanted)
    if exact is not None:
        return exact
    if len(wanted) < MIN_ID_PREFIX:
        raise MessageNotFound(f"give at least {MIN_ID_PREFIX} characters of the message id")
    escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    matches = session.scalars(
        select(OutboxMessage).where(OutboxMessage.id.like(escaped + "%", escape="\\")).limit(2)
    ).all()
    if len(matches) != 1:
        problem = "no message" if not matches else "several messages"
        raise MessageNotFound(f"{problem} with an id starting {wanted!r}")
    return matches[0]
