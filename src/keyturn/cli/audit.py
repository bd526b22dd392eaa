"""`keyturn audit list`: read one property's audit record from the server's shell.

The operator reads it as the API's portfolio manager does, newest first and in words, and the
read is recorded like theirs, as the operator's.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import func, select

from keyturn.cli.arguments import find_property, instant, migrated_session, now_or_clock
from keyturn.cli.context import console
from keyturn.cloud.models import Person
from keyturn.cloud.privacy.audit_record.service import (
    MAX_PAGE,
    AuditEntry,
    AuditFilter,
    read_audit_record,
)
from keyturn.errors import UserError

app = typer.Typer(help="Read the audit record of a property.", no_args_is_help=True)


@app.command("list")
def list_(
    property_: Annotated[str, typer.Option("--property", help="The property, by id or name.")],
    since: Annotated[
        str | None, typer.Option(metavar="ISO", help="Only entries from this instant on.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="ISO", help="Only entries before this instant.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="EMAIL", help="Only this person's acts.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="An action code (history.read) or a family of them (dsar)."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_PAGE, help="How many entries, newest first.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List the newest entries: when, who, what and about whom, in the property's time."""
    now = now_or_clock(None)
    filters = AuditFilter(
        since=None if since is None else instant(since, "--since"),
        until=None if until is None else instant(until, "--until"),
        action=action,
    )
    with migrated_session() as session:
        prop = find_property(session, property_)
        if actor is not None:
            person_id = session.scalar(
                select(Person.id).where(func.lower(Person.email) == actor.strip().lower())
            )
            if person_id is None:
                raise UserError(f"--actor: nobody has the address {actor!r}")
            filters = AuditFilter(
                actor_person_id=person_id,
                action=filters.action,
                since=filters.since,
                until=filters.until,
            )
        page = read_audit_record(
            session=session,
            reader_person_id=None,
            property_id=prop.id,
            filters=filters,
            cursor=None,
            limit=limit,
            now=now,
        )
        session.commit()
        zone = ZoneInfo(prop.time_zone)
        name = prop.name
    if as_json:
        typer.echo(json.dumps([_entry_json(entry) for entry in page.entries]))
        return
    if not page.entries:
        console.print(f"no audit entries at {name} for these filters", highlight=False)
        return
    table = Table("when", "who", "what", "about", "detail", title=f"audit record of {name}")
    for entry in page.entries:
        who = entry.actor.name
        if entry.actor.email:
            who = f"{who} <{entry.actor.email}>"
        about = entry.subject.name or entry.subject.type.replace("_", " ")
        table.add_row(
            _local(entry.at, zone),
            who,
            entry.action_words,
            about,
            _readable(entry.detail),
        )
    console.print(table)


def _readable(detail: dict[str, Any]) -> str:
    """The detail for a person: an id is left out where its name is shown beside it."""
    named = {"person_id": "person", "key_id": "key", "door_id": "door", "door_ids": "doors"}
    shown = {
        member: value
        for member, value in detail.items()
        if member not in named or named[member] not in detail
    }
    return json.dumps(shown, sort_keys=True) if shown else ""


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _entry_json(entry: AuditEntry) -> dict[str, Any]:
    shown = asdict(entry)
    shown["at"] = entry.at.isoformat()
    return shown
