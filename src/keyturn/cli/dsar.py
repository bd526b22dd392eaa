"""`keyturn dsar`: review data-subject requests from the server's shell.

The operator acts without a person behind them: the audit record shows it as the operator's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from keyturn.cli.arguments import find_property, migrated_session
from keyturn.cli.context import console, settings
from keyturn.cloud import db as database
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.models import DataSubjectRequest, RequestKind, RequestState
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.copy_links import send_copy_link
from keyturn.cloud.privacy.export import deliver_copy
from keyturn.cloud.privacy.lock_purges import purge_status
from keyturn.cloud.privacy.requests import ReviewerChannel
from keyturn.errors import UserError

SHORT_ID = 8

app = typer.Typer(help="Review data-subject requests (copies and deletions).", no_args_is_help=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


@app.command("list")
def list_(
    state: Annotated[
        RequestState | None, typer.Option(help="Only requests in this state.", case_sensitive=False)
    ] = None,
    overdue: Annotated[bool, typer.Option(help="Only requests past a deadline.")] = False,
) -> None:
    """List requests, newest first, with their deadlines and overdue flags."""
    now = database.utcnow()
    with migrated_session() as session:
        rows = requests.list_requests(session, now, state=state, overdue_only=overdue)
    if not rows:
        console.print("no data-subject requests")
        return
    table = Table("id", "kind", "channel", "state", "received", "answer by", "flags")
    for row in rows:
        table.add_row(
            row.id[:SHORT_ID],
            row.kind.value,
            row.channel,
            row.state.value,
            _when(row.received_at),
            _when(requests.answer_by(row)),
            ", ".join(requests.overdue(row, now)) or "-",
        )
    console.print(table)


@app.command()
def show(
    request_id: Annotated[str, typer.Argument(help="The id, or its first characters.")],
) -> None:
    """Show one request: its steps, deadlines, holds and the purge status of every lock."""
    now = database.utcnow()
    with migrated_session() as session:
        row = requests.find_request(session, request_id)
        _print(session, row, now)


def _print(session: Session, row: DataSubjectRequest, now: datetime) -> None:
    fields = {
        "id": row.id,
        "kind": row.kind.value,
        "channel": row.channel + (" (authorised agent)" if row.agent_person_id else ""),
        "state": row.state.value,
        "identity": requests.identity_state(row),
        "person": requests.match_of(session, row),
        "requester": ", ".join(
            part for part in (row.requester_name, row.requester_email, row.requester_phone) if part
        )
        or "-",
        "note": row.note or "-",
        "received": _when(row.received_at),
        "acknowledged": _when(row.acknowledged_at),
        "answer by": _when(requests.answer_by(row)),
        "extension": row.extension_reason or "-",
        "overdue": ", ".join(requests.overdue(row, now)) or "-",
        "verified": _when(row.verified_at),
        "hold": row.hold_reason or "-",
        "refusal": row.refusal_reason or "-",
        "response": row.response or "-",
        "anonymise at": _when(row.anonymise_due_at),
    }
    for name, value in fields.items():
        console.print(f"[bold]{name + ':':<14}[/]{value}", highlight=False, soft_wrap=True)
    for hold in requests.record_holds(session, row.id):
        console.print(f"held {hold.object_type} {hold.object_id}: {hold.reason}", highlight=False)
    locks = purge_status(session, row.id)
    if locks:
        table = Table("lock", "door", "purge", "confirmed", "last sync")
        for lock in locks:
            table.add_row(
                lock.device_id[:SHORT_ID],
                lock.door_name or "-",
                lock.state,
                _when(lock.confirmed_at),
                _when(lock.last_sync_at),
            )
        console.print(table)


@app.command("file")
def file_(
    property_: Annotated[
        str, typer.Option("--property", help="The property's id, or its exact name.")
    ],
    kind: Annotated[RequestKind, typer.Option(help="copy or deletion.", case_sensitive=False)],
    channel: Annotated[
        ReviewerChannel, typer.Option(help="How the request came.", case_sensitive=False)
    ],
    name: Annotated[str, typer.Option(help="The requester's name, as they gave it.")],
    email: Annotated[str | None, typer.Option(help="Their address; they are mailed.")] = None,
    phone: Annotated[str | None, typer.Option(help="Their phone number.")] = None,
    person: Annotated[
        str | None, typer.Option(help="The person's id, when it is known who they are.")
    ] = None,
    received: Annotated[
        datetime | None,
        typer.Option(
            help="When it was received, ISO 8601 (UTC if no zone); deadlines run from it.",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="What the reviewer should know.")] = None,
) -> None:
    """File a request someone made by email, phone, post or in person (D9's channel).

    It waits for a reviewer to check who asked and approve it (D2); the property's reviewers
    are told it arrived.
    """
    now = database.utcnow()
    when = received.replace(tzinfo=UTC) if received and received.tzinfo is None else received
    with migrated_session() as session:
        property_id = find_property(session, property_).id
        row = requests.file_for_requester(
            session=session,
            property_id=property_id,
            reviewer_id=None,
            kind=kind,
            channel=channel,
            requester_name=name,
            requester_email=email,
            requester_phone=phone,
            person_id=person,
            received_at=when,
            note=note,
            now=now,
        )
        session.commit()
        console.print(
            f"{row.id[:SHORT_ID]} filed ({row.channel}); answer by"
            f" {_when(requests.answer_by(row))}",
            highlight=False,
        )


@app.command()
def approve(request_id: Annotated[str, typer.Argument(help="The id or its prefix.")]) -> None:
    """Accept the documents on file (an agent's letter and ID, or a government ID)."""
    config = settings()
    now = database.utcnow()
    with migrated_session() as session:
        row = requests.approve(session, requests.find_request(session, request_id), now, None)
        if row.state == RequestState.VERIFIED:
            requests.proceed(session, config.master_key_bytes(), config.photo_dir, row, now)
        if send_copy_link(session, AuthConfig(), row, now, None):
            console.print("a one-time download link was mailed to the requester")
        session.commit()
        console.print(f"{row.id[:SHORT_ID]} is {row.state.value}", highlight=False)


@app.command()
def refuse(
    request_id: Annotated[str, typer.Argument(help="The id or its prefix.")],
    reason: Annotated[str, typer.Option(help="The legal reason, recorded and shown.")],
) -> None:
    """Refuse a request for a recorded legal reason (D7)."""
    now = database.utcnow()
    with migrated_session() as session:
        row = requests.refuse(
            session, requests.find_request(session, request_id), reason, now, None
        )
        session.commit()
        console.print(f"{row.id[:SHORT_ID]} refused", highlight=False)


@app.command()
def hold(
    request_id: Annotated[str, typer.Argument(help="The id or its prefix.")],
    reason: Annotated[str | None, typer.Option(help="The legal reason for the hold.")] = None,
    release: Annotated[bool, typer.Option(help="Lift the hold instead.")] = False,
) -> None:
    """Pause a request for a recorded legal reason (D7), or lift the hold with --release."""
    now = database.utcnow()
    with migrated_session() as session:
        row = requests.find_request(session, request_id)
        if release:
            requests.release(session, row, now, None)
        elif reason is None:
            raise UserError("give --reason, or --release to lift the hold")
        else:
            requests.hold(session, row, reason, now, None)
        session.commit()
        console.print(f"{row.id[:SHORT_ID]} is {row.state.value}", highlight=False)


@app.command()
def export(
    request_id: Annotated[str, typer.Argument(help="The id or its prefix.")],
    out: Annotated[Path, typer.Option(help="Where to write the zip.")],
) -> None:
    """Write the copy of a verified copy request to a zip; this completes the request (D1)."""
    config = settings()
    now = database.utcnow()
    with migrated_session() as session:
        row = requests.find_request(session, request_id)
        data = deliver_copy(session, config.master_key_bytes(), config.photo_dir, row, now, None)
        out.write_bytes(data)
        session.commit()
    console.print(f"wrote {out} ({len(data)} bytes)", highlight=False)
