"""`keyturn mail`: look at the outbox and send what is due.

With the default files transport, sent mail lands as .eml files in <data dir>/mail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from keyturn.cli.arguments import migrated_sessions
from keyturn.cli.context import console, settings
from keyturn.cloud import db as database
from keyturn.cloud.mail.sender import deliver_pending
from keyturn.cloud.mail.service import MessageNotFound, find_message, list_messages
from keyturn.cloud.mail.transports import MAIL_DIR, eml_path
from keyturn.cloud.models import MailState, OutboxMessage
from keyturn.errors import UserError

SHORT_ID = 8

app = typer.Typer(help="Look at the outbox and send what is due.", no_args_is_help=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


@app.command("list")
def list_(
    state: Annotated[
        MailState | None, typer.Option(help="Only messages in this state.", case_sensitive=False)
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
) -> None:
    """List outbox messages, newest first: id, created, to, subject, state, attempts."""
    with migrated_sessions() as factory, factory() as session:
        messages = list_messages(session, state=state, limit=limit)
    if not messages:
        console.print("the outbox is empty")
        return
    table = Table("id", "created", "to", "subject", "state", "attempts")
    for message in messages:
        table.add_row(
            message.id[:SHORT_ID],
            _when(message.created_at),
            message.to_address or "(removed)",
            message.subject,
            message.state.value,
            str(message.attempts),
        )
    console.print(table)


@app.command()
def show(
    message_id: Annotated[str, typer.Argument(help="The id, or its first characters.")],
) -> None:
    """Show one message: its delivery record, then the text that was (or will be) sent."""
    with migrated_sessions() as factory, factory() as session:
        try:
            message = find_message(session, message_id)
        except MessageNotFound as exc:
            raise UserError(str(exc)) from None
    _print_message(message)


def _print_message(message: OutboxMessage) -> None:
    eml = eml_path(settings().data_dir, message.id)
    fields = {
        "id": message.id,
        "to": message.to_address or "(removed: the address is suppressed)",
        "subject": message.subject,
        "state": message.state.value,
        "created": _when(message.created_at),
        "sent": _when(message.sent_at),
        "attempts": str(message.attempts),
        "next attempt": _when(message.next_attempt_at)
        if message.state in (MailState.PENDING, MailState.SENDING)
        else "-",
        "last error": message.last_error or "-",
        "file": str(eml) if eml.is_file() else "-",
    }
    for name, value in fields.items():
        console.print(f"[bold]{name + ':':<14}[/]{value}", highlight=False, soft_wrap=True)
    console.print()
    console.print(message.body_text, markup=False, highlight=False, soft_wrap=True)


@app.command("send-pending")
def send_pending(
    batch: Annotated[int, typer.Option(help="Send at most this many.", min=1)] = 100,
) -> None:
    """Send the messages that are due, once, and print what happened."""
    config = settings()
    config.ensure_data_dir()
    with migrated_sessions() as factory:
        report = deliver_pending(factory, config, database.utcnow(), batch=batch)
    where = (
        f"files in {config.data_dir / MAIL_DIR}"
        if config.mail_transport == "files"
        else f"SMTP {config.smtp_host}"
    )
    console.print(f"{report.summary()} (via {where})", highlight=False, soft_wrap=True)
