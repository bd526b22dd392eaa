"""The two ways a message leaves Keyturn: a real SMTP server, or .eml files in the data dir.

A transport raises DeliveryError with a message free of secrets, and says whether the
problem is the server's (stop the batch, retry later) or this message's alone.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Protocol

from keyturn.cloud.mail.addresses import check_address
from keyturn.cloud.mail.errors import InvalidMail
from keyturn.cloud.models import OutboxMessage
from keyturn.settings import Settings, SettingsError

SMTP_TIMEOUT_S = 30.0
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
MAX_ERROR_LENGTH = 500
MAIL_DIR = "mail"


class DeliveryError(Exception):
    """A send failed; `server_down` stops the batch, `permanent` stops retrying the message."""

    def __init__(self, message: str, *, server_down: bool, permanent: bool = False) -> None:
        super().__init__(message[:MAX_ERROR_LENGTH])
        self.server_down = server_down
        self.permanent = permanent


class Transport(Protocol):
    """Sends built messages; used as a context manager so connections are closed."""

    def __enter__(self) -> Transport: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def send(self, email: EmailMessage) -> None: ...


def sender_address(settings: Settings) -> Address:
    """KEYTURN_MAIL_FROM parsed as "Name <address>" or a bare address; SettingsError if bad."""
    if "\r" in settings.mail_from or "\n" in settings.mail_from:
        raise SettingsError("KEYTURN_MAIL_FROM: must be one line")
    name, address = parseaddr(settings.mail_from)
    try:
        local, _, domain = check_address(address).rpartition("@")
    except InvalidMail as exc:
        raise SettingsError(f"KEYTURN_MAIL_FROM: {exc}") from None
    return Address(display_name=name, username=local, domain=domain)


def build_email(message: OutboxMessage, sender: Address, now: datetime) -> EmailMessage:
    """The RFC 5322 message for an outbox row; its Message-ID is stable across retries.

    A row that cannot make a safe message (a line break in a header that bypassed
    enqueue_mail) raises a permanent DeliveryError.
    """
    email = EmailMessage(policy=policy.SMTP)
    try:
        email["From"] = sender
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email["Date"] = format_datetime(now)
        email["Message-ID"] = f"<{message.id}@{sender.domain}>"
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
        email.set_content(message.body_text)
    except (ValueError, TypeError) as exc:
        raise DeliveryError(
            f"cannot build the message: {exc}", server_down=False, permanent=True
        ) from None
    return email


def eml_path(data_dir: Path, message_id: str) -> Path:
    """Where the files transport writes (and the CLI finds) the message with this id."""
    return data_dir / MAIL_DIR / f"{message_id}.eml"


def open_transport(settings: Settings) -> Transport:
    """The transport KEYTURN_MAIL_TRANSPORT names, checked but not yet connected."""
    if settings.mail_transport == "files":
        return FileTransport(settings.data_dir)
    return SmtpTransport(settings)


class FileTransport:
    """Writes each message to <data dir>/mail/<id>.eml (mode 0600: mail may carry doorcodes)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.directory = data_dir / MAIL_DIR

    def __enter__(self) -> FileTransport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def send(self, email: EmailMessage) -> None:
        message_id = str(email["Message-ID"]).strip("<>").partition("@")[0]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(email.as_bytes())
            os.replace(temp, eml_path(self.data_dir, message_id))
        except OSError as exc:
            raise DeliveryError(
                f"cannot write to {self.directory}: {exc.strerror or exc}", server_down=True
            ) from None


class SmtpTransport:
    """One SMTP connection per batch, opened at the first send, with TLS and login as set."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise SettingsError("KEYTURN_SMTP_HOST: required when KEYTURN_MAIL_TRANSPORT=smtp")
        if settings.smtp_password is not None and not settings.smtp_username:
            raise SettingsError("KEYTURN_SMTP_USERNAME: required with KEYTURN_SMTP_PASSWORD")
        self.host = settings.smtp_host
        self.tls = settings.smtp_tls
        self.port = settings.smtp_port or DEFAULT_PORTS[self.tls]
        self.username = settings.smtp_username
        password = settings.smtp_password
        self._password = password.get_secret_value() if password is not None else None
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def send(self, email: EmailMessage) -> None:
        try:
            self._connection().send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
            raise DeliveryError(
                f"recipient refused: {detail}",
                server_down=False,
                permanent=all(code >= 500 for code in codes),
            ) from None
        except smtplib.SMTPDataError as exc:
            raise DeliveryError(
                f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                server_down=False,
                permanent=exc.smtp_code >= 500,
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            raise DeliveryError(
                f"sender refused: {exc.smtp_code} {_text(exc.smtp_error)}", server_down=False
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(self._describe(exc), server_down=True) from None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT_S, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_S)
        try:
            smtp.ehlo()
            if self.tls == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username and self._password is not None:
                smtp.login(self.username, self._password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, smtplib.SMTPResponseException):
            detail = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        elif isinstance(exc, OSError) and exc.strerror:
            detail = exc.strerror
        else:
            detail = str(exc) or "no detail"
        text = f"{type(exc).__name__} from {self.host}:{self.port}: {detail}"
        if self._password:
            text = text.replace(self._password, "***")
        return text


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
