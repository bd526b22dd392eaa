"""deliver_pending against a real SMTP server (aiosmtpd on 127.0.0.1) and the files transport.

Every test that touches the outbox runs on SQLite and PostgreSQL; each server runs in its
own thread on a free port and is always stopped.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import ssl
import stat
import threading
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud import db, sessions
from keyturn.cloud.mail.sender import (
    CLAIM_DURATION,
    MAX_ATTEMPTS,
    DeliveryReport,
    deliver_pending,
    retry_delay,
)
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.mail.suppression import suppress
from keyturn.cloud.models import MailState, OutboxMessage
from keyturn.settings import Settings, SettingsError
from smtp_server import Mailbox, free_port, smtp_server

MASTER_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
USER, PASSWORD = "keyturn", "s3cret-Pa55word"
FROM = "Keyturn <noreply@keyturn.test>"
MINUTE = dt.timedelta(minutes=1)


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    good = (USER.encode(), PASSWORD.encode())
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == good
    return AuthResult(success=ok, handled=False)


# aiosmtpd warns whenever AUTH is offered without TLS; that is what these tests want.
no_tls_warning = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def smtp_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "master_key": MASTER_KEY,
        "mail_transport": "smtp",
        "mail_from": FROM,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
    }
    return Settings(**{**values, **overrides})


@pytest.fixture(autouse=True)
def _no_keyturn_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KEYTURN_"):
            monkeypatch.delenv(name)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessions.session_factory(engine)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


def enqueue(factory: sessionmaker[Session], *addresses: str) -> list[str]:
    with factory() as session:
        ids = [
            enqueue_mail(session, address, f"Hello {address}", f"Body for {address}\n").id
            for address in addresses
        ]
        session.commit()
    return ids


def rows(factory: sessionmaker[Session]) -> dict[str, OutboxMessage]:
    with factory() as session:
        return {m.to_address: m for m in session.scalars(select(OutboxMessage))}


def test_delivers_over_smtp_with_the_right_headers_and_body(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    alice, bob = enqueue(factory, "alice@example.org", "bob@example.org")
    now = db.utcnow()

    with smtp_server(mailbox) as port:
        report = deliver_pending(factory, smtp_settings(tmp_path, port), now)
        again = deliver_pending(factory, smtp_settings(tmp_path, port), now)

    assert report == DeliveryReport(claimed=2, sent=2)
    assert again == DeliveryReport()
    received = {str(m["To"]): m for m in mailbox.messages}
    assert set(received) == {"alice@example.org", "bob@example.org"}
    first = received["alice@example.org"]
    assert str(first["From"]) == FROM
    assert str(first["Subject"]) == "Hello alice@example.org"
    assert str(first["Message-ID"]) == f"<{alice}@keyturn.test>"
    assert first["Date"].datetime == now.replace(microsecond=0)
    assert str(first["Auto-Submitted"]) == "auto-generated"
    assert first.get_content().replace("\r\n", "\n") == "Body for alice@example.org\n"
    stored = rows(factory)["bob@example.org"]
    assert (stored.id, stored.state, stored.attempts, stored.last_error) == (
        bob,
        MailState.SENT,
        1,
        None,
    )
    assert stored.sent_at == now
    assert stored.claim_token is None


@no_tls_warning
def test_logs_in_with_the_configured_account(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    enqueue(factory, "alice@example.org")
    login = {"auth_required": True, "auth_require_tls": False, "authenticator": check_login}

    with smtp_server(mailbox, **login) as port:
        settings = smtp_settings(tmp_path, port, smtp_username=USER, smtp_password=PASSWORD)
        report = deliver_pending(factory, settings, db.utcnow())

    assert report.sent == 1
    assert [str(m["To"]) for m in mailbox.messages] == ["alice@example.org"]


@no_tls_warning
def test_a_wrong_password_is_recorded_without_it_and_retried_with_backoff(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    enqueue(factory, "alice@example.org")
    now = db.utcnow()
    login = {"auth_required": True, "auth_require_tls": False, "authenticator": check_login}
    wrong = "wrong-" + PASSWORD

    with smtp_server(mailbox, **login) as port:
        bad = smtp_settings(tmp_path, port, smtp_username=USER, smtp_password=wrong)
        good = smtp_settings(tmp_path, port, smtp_username=USER, smtp_password=PASSWORD)
        failed = deliver_pending(factory, bad, now)
        stored = rows(factory)["alice@example.org"]
        too_early = deliver_pending(factory, good, now + retry_delay(1) - dt.timedelta(seconds=1))
        later = deliver_pending(factory, good, now + retry_delay(1))

    assert (failed.claimed, failed.retrying, failed.sent) == (1, 1, 0)
    assert failed.last_error is not None
    assert "535" in failed.last_error
    assert wrong not in failed.last_error
    assert PASSWORD not in failed.last_error
    assert (stored.state, stored.attempts, stored.last_error) == (
        MailState.PENDING,
        1,
        failed.last_error,
    )
    assert stored.next_attempt_at == now + retry_delay(1)
    assert too_early == DeliveryReport()
    assert later.sent == 1
    assert rows(factory)["alice@example.org"].attempts == 2
    assert len(mailbox.messages) == 1


def test_server_down_loses_nothing_and_counts_attempts(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    addresses = ["alice@example.org", "bob@example.org", "carol@example.org"]
    enqueue(factory, *addresses)
    now = db.utcnow()
    port = free_port()

    down = deliver_pending(factory, smtp_settings(tmp_path, port), now)
    stored = rows(factory)
    with smtp_server(mailbox, port=port):
        up = deliver_pending(factory, smtp_settings(tmp_path, port), now + retry_delay(1))

    assert (down.claimed, down.retrying, down.sent) == (3, 3, 0)
    assert down.last_error is not None
    assert f"127.0.0.1:{port}" in down.last_error
    assert all(m.attempts == 1 and m.state is MailState.PENDING for m in stored.values())
    assert up.sent == 3
    assert sorted(str(m["To"]) for m in mailbox.messages) == addresses


def test_gives_up_after_the_last_attempt(factory: sessionmaker[Session], tmp_path: Path) -> None:
    enqueue(factory, "alice@example.org")
    with factory() as session:
        session.execute(update(OutboxMessage).values(attempts=MAX_ATTEMPTS - 1))
        session.commit()
    now = db.utcnow()

    report = deliver_pending(factory, smtp_settings(tmp_path, free_port()), now)
    later = deliver_pending(
        factory, smtp_settings(tmp_path, free_port()), now + dt.timedelta(days=1)
    )

    assert (report.failed, report.retrying) == (1, 0)
    stored = rows(factory)["alice@example.org"]
    assert (stored.state, stored.attempts) == (MailState.FAILED, MAX_ATTEMPTS)
    assert later == DeliveryReport()


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE]
    assert retry_delay(MAX_ATTEMPTS) == dt.timedelta(hours=2)


def test_rule_d5_a_suppressed_address_never_reaches_the_server(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    with factory() as session:
        suppress(session, base64.urlsafe_b64decode(MASTER_KEY), "alice@example.org")
        session.commit()
    blocked, _ = enqueue(factory, "ALICE@example.org", "bob@example.org")

    with smtp_server(mailbox) as port:
        report = deliver_pending(factory, smtp_settings(tmp_path, port), db.utcnow())

    assert (report.sent, report.suppressed) == (1, 1)
    assert [str(m["To"]) for m in mailbox.messages] == ["bob@example.org"]
    with factory() as session:
        stored = session.get(OutboxMessage, blocked)
    assert stored is not None
    assert (stored.state, stored.to_address, stored.body_text) == (MailState.SUPPRESSED, "", "")


def test_a_refused_recipient_fails_at_once_and_the_batch_goes_on(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    enqueue(factory, "nobody@bounce.test", "bob@example.org")

    with smtp_server(mailbox) as port:
        report = deliver_pending(factory, smtp_settings(tmp_path, port), db.utcnow())

    assert (report.failed, report.sent) == (1, 1)
    bounced = rows(factory)["nobody@bounce.test"]
    assert (bounced.state, bounced.attempts) == (MailState.FAILED, 1)
    assert bounced.last_error is not None
    assert "550" in bounced.last_error


def test_a_row_with_a_line_break_in_a_header_is_never_sent(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    with factory() as session:
        session.add(
            OutboxMessage(
                to_address="alice@example.org",
                subject="Hi\r\nBcc: eve@example.org",
                body_text="injected past enqueue_mail",
            )
        )
        session.commit()

    with smtp_server(mailbox) as port:
        report = deliver_pending(factory, smtp_settings(tmp_path, port), db.utcnow())

    assert report.failed == 1
    assert mailbox.messages == []


def test_two_workers_at_once_send_each_message_exactly_once(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    ids = enqueue(factory, *(f"resident{n}@example.org" for n in range(24)))
    now = db.utcnow()
    start = threading.Barrier(2, timeout=10)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def worker(settings: Settings) -> None:
        try:
            start.wait()
            while (report := deliver_pending(factory, settings, now, batch=3)).claimed:
                reports.append(report)
        except BaseException as exc:
            errors.append(exc)

    with smtp_server(mailbox) as port:
        settings = smtp_settings(tmp_path, port)
        threads = [threading.Thread(target=worker, args=(settings,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert sum(r.sent for r in reports) == len(ids)
    message_ids = sorted(str(m["Message-ID"]) for m in mailbox.messages)
    assert message_ids == sorted(f"<{i}@keyturn.test>" for i in ids)
    assert all(m.attempts == 1 and m.state is MailState.SENT for m in rows(factory).values())


def test_a_claim_left_by_a_dead_worker_is_taken_over_when_it_expires(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    enqueue(factory, "alice@example.org")
    now = db.utcnow()
    with factory() as session:
        session.execute(
            update(OutboxMessage).values(
                state=MailState.SENDING,
                claim_token="a-worker-that-died",
                next_attempt_at=now + CLAIM_DURATION,
                attempts=1,
            )
        )
        session.commit()

    with smtp_server(mailbox) as port:
        while_claimed = deliver_pending(factory, smtp_settings(tmp_path, port), now)
        expired = deliver_pending(factory, smtp_settings(tmp_path, port), now + CLAIM_DURATION)

    assert while_claimed == DeliveryReport()
    assert expired.sent == 1
    assert rows(factory)["alice@example.org"].attempts == 2


def test_files_transport_writes_a_parseable_private_eml_file(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    (message_id,) = enqueue(factory, "alice@example.org")
    settings = Settings(data_dir=tmp_path, master_key=MASTER_KEY, mail_from=FROM)
    assert settings.mail_transport == "files"

    report = deliver_pending(factory, settings, db.utcnow())

    path = tmp_path / "mail" / f"{message_id}.eml"
    assert report.sent == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "mail").iterdir()] == [path.name]
    raw = path.read_bytes()
    assert b"\r\n" in raw
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert str(parsed["To"]) == "alice@example.org"
    assert str(parsed["Subject"]) == "Hello alice@example.org"
    assert str(parsed["Message-ID"]) == f"<{message_id}@keyturn.test>"
    assert parsed.get_content().replace("\r\n", "\n") == "Body for alice@example.org\n"
    assert rows(factory)["alice@example.org"].state is MailState.SENT


def test_smtp_settings_are_checked_before_anything_is_claimed(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    enqueue(factory, "alice@example.org")
    no_host = smtp_settings(tmp_path, 25, smtp_host=None)
    bad_from = smtp_settings(tmp_path, 25, mail_from="Keyturn <not an address>")

    with pytest.raises(SettingsError, match="KEYTURN_SMTP_HOST"):
        deliver_pending(factory, no_host, db.utcnow())
    with pytest.raises(SettingsError, match="KEYTURN_MAIL_FROM"):
        deliver_pending(factory, bad_from, db.utcnow())
    assert rows(factory)["alice@example.org"].attempts == 0


def test_the_password_never_shows_in_settings_output(tmp_path: Path) -> None:
    settings = smtp_settings(tmp_path, 25, smtp_username=USER, smtp_password=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.model_dump())


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_then_login_against_a_server_that_requires_both(
    factory: sessionmaker[Session],
    mailbox: Mailbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enqueue(factory, "alice@example.org")
    cert_path, key_path = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # the client trusts our test CA
    options = {"tls_context": server_tls, "require_starttls": True, "auth_required": True}

    with smtp_server(mailbox, authenticator=check_login, **options) as port:
        settings = smtp_settings(
            tmp_path, port, smtp_tls="starttls", smtp_username=USER, smtp_password=PASSWORD
        )
        report = deliver_pending(factory, settings, db.utcnow())

    assert report.sent == 1, report.last_error
    assert [str(m["To"]) for m in mailbox.messages] == ["alice@example.org"]


def test_starttls_is_never_skipped_when_the_server_lacks_it(
    factory: sessionmaker[Session], mailbox: Mailbox, tmp_path: Path
) -> None:
    enqueue(factory, "alice@example.org")

    with smtp_server(mailbox) as port:
        settings = smtp_settings(
            tmp_path, port, smtp_tls="starttls", smtp_username=USER, smtp_password=PASSWORD
        )
        report = deliver_pending(factory, settings, db.utcnow())

    assert report.retrying == 1
    assert report.last_error is not None
    assert "STARTTLS" in report.last_error
    assert mailbox.messages == []
