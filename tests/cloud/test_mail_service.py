"""Queueing mail and the suppression list, on SQLite and PostgreSQL."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from factories import make_person
from keyturn.cloud import sessions
from keyturn.cloud.mail.errors import InvalidAddress, UnsafeHeader
from keyturn.cloud.mail.service import MessageNotFound, enqueue_mail, find_message, list_messages
from keyturn.cloud.mail.suppression import (
    address_hash,
    is_suppressed,
    suppress,
    suppression_key,
    use_suppression_key,
)
from keyturn.cloud.models import MailState, MailSuppression, OutboxMessage

MASTER_KEY = os.urandom(32)


def test_enqueue_stores_a_pending_message_in_the_callers_transaction(session: Session) -> None:
    message = enqueue_mail(session, " Alice@Example.org ", "Welcome", "Hello Alice")

    assert message.id
    assert message.state is MailState.PENDING
    session.rollback()
    assert session.scalars(select(OutboxMessage)).all() == []

    message = enqueue_mail(session, "alice@example.org", "Welcome", "Hello Alice")
    session.commit()
    stored = session.get(OutboxMessage, message.id)
    assert stored is not None
    assert (stored.to_address, stored.subject, stored.body_text) == (
        "alice@example.org",
        "Welcome",
        "Hello Alice",
    )
    assert (stored.attempts, stored.sent_at, stored.last_error) == (0, None, None)


def test_enqueue_refuses_header_injection_and_bad_addresses(session: Session) -> None:
    with pytest.raises(UnsafeHeader):
        enqueue_mail(session, "alice@example.org", "Hi\r\nBcc: eve@example.org", "body")
    with pytest.raises(UnsafeHeader):
        enqueue_mail(session, "alice@example.org\r\nBcc: eve@example.org", "Hi", "body")
    with pytest.raises(InvalidAddress):
        enqueue_mail(session, "not an address", "Hi", "body")
    session.commit()
    assert session.scalars(select(OutboxMessage)).all() == []


def test_messages_to_a_person_go_with_the_person(session: Session) -> None:
    person = make_person(session, email="alice@example.org", name="Alice", account=False)
    enqueue_mail(session, "alice@example.org", "Welcome", "Hello", person_id=person.id)
    enqueue_mail(session, "bob@example.org", "Welcome", "Hello")
    session.commit()

    session.delete(person)
    session.commit()

    assert [m.to_address for m in session.scalars(select(OutboxMessage))] == ["bob@example.org"]


def test_rule_d5_suppression_list_keeps_only_a_keyed_hash(session: Session) -> None:
    suppress(session, MASTER_KEY, "Alice@Example.org")
    suppress(session, MASTER_KEY, " alice@example.org")  # idempotent
    session.commit()

    rows = session.scalars(select(MailSuppression)).all()
    assert [row.address_hash for row in rows] == [
        address_hash(suppression_key(MASTER_KEY), "alice@example.org")
    ]
    dump = " ".join(str(v) for v in session.execute(text("SELECT * FROM mail_suppressions")).one())
    assert "alice" not in dump.lower()
    assert is_suppressed(session, MASTER_KEY, "ALICE@example.org ")
    assert not is_suppressed(session, MASTER_KEY, "bob@example.org")
    assert not is_suppressed(session, os.urandom(32), "alice@example.org")


def test_rule_d5_suppress_deletes_what_was_queued_for_the_address(session: Session) -> None:
    enqueue_mail(session, "alice@example.org", "One", "queued")
    enqueue_mail(session, "bob@example.org", "Two", "queued")
    session.commit()

    assert suppress(session, MASTER_KEY, "ALICE@example.org") == 1
    session.commit()

    assert [m.to_address for m in session.scalars(select(OutboxMessage))] == ["bob@example.org"]


def test_rule_d5_enqueue_with_the_key_bound_settles_suppressed_mail_at_once(
    engine: Engine,
) -> None:
    factory = sessions.session_factory(engine)
    use_suppression_key(factory, MASTER_KEY)
    with factory() as session:
        suppress(session, MASTER_KEY, "alice@example.org")
        blocked = enqueue_mail(session, "Alice@example.org", "Your code", "1234567")
        allowed = enqueue_mail(session, "bob@example.org", "Your code", "7654321")
        session.commit()

    with factory() as session:
        stored = session.get(OutboxMessage, blocked.id)
        assert stored is not None
        assert stored.state is MailState.SUPPRESSED
        assert (stored.to_address, stored.body_text) == ("", "")
        assert session.get(OutboxMessage, allowed.id).state is MailState.PENDING  # type: ignore[union-attr]


def test_use_suppression_key_on_one_session(session: Session) -> None:
    suppress(session, MASTER_KEY, "alice@example.org")
    assert enqueue_mail(session, "alice@example.org", "Hi", "x").state is MailState.PENDING
    use_suppression_key(session, MASTER_KEY)
    assert enqueue_mail(session, "alice@example.org", "Hi", "x").state is MailState.SUPPRESSED


def test_list_and_find_messages(session: Session) -> None:
    first = enqueue_mail(session, "alice@example.org", "First", "1")
    session.commit()
    second = enqueue_mail(session, "bob@example.org", "Second", "2")
    session.commit()

    assert [m.subject for m in list_messages(session)] == ["Second", "First"]
    assert [m.subject for m in list_messages(session, limit=1)] == ["Second"]
    assert list_messages(session, state=MailState.SENT) == []
    assert find_message(session, first.id) is first
    assert find_message(session, second.id[:8].upper()) is second
    with pytest.raises(MessageNotFound):
        find_message(session, "abc")
    with pytest.raises(MessageNotFound):
        find_message(session, "zzzzzzzz")
    with pytest.raises(MessageNotFound):
        find_message(session, "%")
