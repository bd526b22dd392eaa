"""`keyturn explain` and `keyturn access-review`: why a person opens a door or not, and who can.

Both answer as the door's lock decides, on the list it holds, from the server's shell; names
are taken and shown instead of ids, and a bad name or time is one line and exit status 2.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from keyturn.cli.arguments import instant, migrated_session
from keyturn.cli.context import console, settings
from keyturn.cloud import db as database
from keyturn.cloud.access.explain import service

PropertyOption = Annotated[str, typer.Option("--property", help="The property's name or id.")]
DoorOption = Annotated[str, typer.Option("--door", help="The door's name (or id) there.")]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="The instant asked about, ISO 8601 with offset (default: now)."),
]
MARKS = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "not_checked": "[dim]·[/]"}


def explain_command(
    property_ref: PropertyOption,
    person: Annotated[str, typer.Option("--person", help="The person's email (or id).")],
    door: DoorOption,
    at: AtOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Would this person's credentials open the door at that time, and why, step by step."""
    now = database.utcnow()
    moment = now if at is None else instant(at, "--at")
    master_key = settings().master_key_bytes()
    with migrated_session() as session:
        property_id, door_id, person_id = service.find_by_names(
            session=session, property_ref=property_ref, door_ref=door, person_ref=person
        )
        assert person_id is not None
        answer = service.explain(
            session=session,
            master_key=master_key,
            property_id=property_id,
            person_id=person_id,
            door_id=door_id,
            at=moment,
            now=now,
        )
    if as_json:
        body = {**asdict(answer), "opens": answer.opens, "summary": answer.summary}
        typer.echo(json.dumps(body, default=_json_default, indent=2))
        return
    _print_explanation(answer)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def _print_explanation(answer: service.Explanation) -> None:
    verdict = "[bold green]OPENS[/]" if answer.opens else "[bold red]DOES NOT OPEN[/]"
    console.print(f"{verdict}  {answer.summary}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]Door:[/] {answer.door_name} ({answer.door_kind.value})   "
        f"[bold]When:[/] {answer.local_time} ({answer.time_zone})",
        highlight=False,
    )
    console.print(f"[bold]Lock:[/] {answer.lock.note}", highlight=False, soft_wrap=True)
    for credential in answer.credentials:
        console.print()
        outcome = "opens" if credential.opens else "refused"
        console.print(
            f"[bold]{credential.label}[/]: {outcome} ({credential.reason.value})",
            highlight=False,
        )
        reached = [step for step in credential.steps if step.outcome != "not_checked"]
        for step in reached:
            console.print(f"  {MARKS[step.outcome]} {step.text}", highlight=False, soft_wrap=True)
        if len(reached) < len(credential.steps):
            console.print(f"  {MARKS['not_checked']} Later checks not reached.", highlight=False)
        if credential.after_sync is not None and credential.after_sync != credential.reason:
            console.print(
                f"  After the lock's next sync: {credential.after_sync.value}", highlight=False
            )
    for line in (*answer.missing, *answer.notes):
        console.print(f"[dim]{line}[/]", highlight=False, soft_wrap=True)


def access_review_command(
    property_ref: PropertyOption,
    door: DoorOption,
    at: AtOption = None,
) -> None:
    """Everyone who can open the door at that time, and through which key and credential."""
    now = database.utcnow()
    moment = now if at is None else instant(at, "--at")
    master_key = settings().master_key_bytes()
    with migrated_session() as session:
        property_id, door_id, _ = service.find_by_names(
            session=session, property_ref=property_ref, door_ref=door
        )
        review = service.access_review(
            session=session,
            master_key=master_key,
            property_id=property_id,
            door_id=door_id,
            at=moment,
            now=now,
        )
        session.commit()
    console.print(
        f"[bold]{review.door_name}[/] ({review.door_kind.value}) at {review.local_time}: "
        f"{len({row.person_id for row in review.people})} people can open it",
        highlight=False,
    )
    console.print(f"[bold]Lock:[/] {review.lock.note}", highlight=False, soft_wrap=True)
    table = Table("person", "credential", "key", "resident")
    for row in review.people:
        table.add_row(
            row.person_name, row.label, row.key_name or "-", "yes" if row.resident else ""
        )
    console.print(table)
    for line in review.notes:
        console.print(f"[dim]{line}[/]", highlight=False, soft_wrap=True)
