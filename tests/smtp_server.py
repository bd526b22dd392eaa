"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 on a free port, in its own thread.

A message is in `Mailbox.messages` by the time the sender's DATA command is answered, so a
test reads it right after delivery, with no waiting.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from factories import MASTER_KEY_TEXT
from keyturn.cloud import db as database
from keyturn.cloud import sessions
from keyturn.cloud.mail.sender import deliver_pending
from keyturn.settings import Settings


class Mailbox:
    """An aiosmtpd handler keeping what arrived, parsed; it bounces anyone at bounce.test."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@bounce.test"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        with self._lock:
            self.messages.append(parsed)
        return "250 OK"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(mailbox: Mailbox, port: int | None = None, **options: Any) -> Iterator[int]:
    """A real SMTP server on 127.0.0.1; start() returns once it answers."""
    port = port or free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def delivered(engine: Engine, data_dir: Path) -> Mailbox:
    """Send the outbox on `engine` to a fresh real SMTP server; its mailbox holds what arrived.

    The outbox stamps messages with the host's time, so they are sent as of the host's time.
    """
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        settings = Settings(
            data_dir=data_dir,
            master_key=MASTER_KEY_TEXT,
            mail_transport="smtp",
            mail_from="Keyturn <noreply@keyturn.test>",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="none",
        )
        deliver_pending(sessions.session_factory(engine), settings, database.utcnow())
    return mailbox


def received_by(mailbox: Mailbox, address: str) -> list[tuple[str, str]]:
    """(subject, text) of each message that reached `address`, in order of arrival."""
    return [
        (str(m["Subject"]), m.get_content().replace("\r\n", "\n"))
        for m in mailbox.messages
        if str(m["To"]) == address
    ]
