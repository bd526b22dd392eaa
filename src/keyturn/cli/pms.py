"""`keyturn pms`: sync a property's residents from a PMS export, and decide the reviews of
partial matches.

`sync` prints what moves in, changes, moves out and waits for review (with --dry-run it only
prints); `reviews` lists the partial matches and `review ID --accept|--reject` decides one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from keyturn.cli.arguments import NowOption, find_property, migrated_session, now_or_clock
from keyturn.cli.context import console, settings
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.models import PmsReview
from keyturn.cloud.people.pms import service
from keyturn.cloud.people.pms.connectors import FileConnector
from keyturn.cloud.people.pms.service import SyncReport
from keyturn.errors import UserError

app = typer.Typer(help="Sync residents from a property-management system.", no_args_is_help=True)

PropertyOption = Annotated[
    str, typer.Option("--property", help="The property's name or id.", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@app.command()
def sync(
    property_: PropertyOption,
    file: Annotated[
        Path, typer.Option("--file", help="The PMS export, .csv or .json.", show_default=False)
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the changes; change nothing.")
    ] = False,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Move residents in and out and update leases as the PMS export says."""
    moment = now_or_clock(now)
    master_key = settings().master_key_bytes()
    with migrated_session() as session, session.begin():
        prop = find_property(session, property_)
        report = service.sync(
            session=session,
            master_key=master_key,
            property_id=prop.id,
            connector=FileConnector(file),
            dry_run=dry_run,
            now=moment,
            welcome=AuthConfig(),
        )
    if as_json:
        typer.echo(json.dumps(report.as_json()))
        return
    _print_sync(report)


def _day(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "open"
    local = moment.astimezone(tz)
    return (
        local.strftime("%Y-%m-%d")
        if local.time() == datetime.min.time()
        else (local.strftime("%Y-%m-%d %H:%M"))
    )


def _print_sync(report: SyncReport) -> None:
    plan, tz = report.plan, report.time_zone
    if report.dry_run:
        state = "dry run, nothing changed"
    else:
        state = "applied" if report.applied else "nothing to change"
    say = console.print
    say(f"PMS sync of {report.property_name} ({state})", highlight=False)
    sections = [
        (
            "moves in",
            [
                f"+ {m.lease.name} <{m.lease.email}>, unit {m.lease.unit}, "
                f"{_day(m.lease.starts_at, tz)} to {_day(m.lease.ends_at, tz)}"
                for m in plan.moves_in
            ],
        ),
        (
            "lease changes",
            [
                f"~ {c.residency.name}, unit {c.residency.unit}: "
                f"{_day(c.residency.starts_at, tz)} to {_day(c.residency.ends_at, tz)} -> "
                f"{_day(c.lease.starts_at, tz)} to {_day(c.lease.ends_at, tz)}"
                for c in plan.lease_changes
            ],
        ),
        (
            "moves out",
            [f"- {m.residency.name}, unit {m.residency.unit} ({m.reason})" for m in plan.moves_out],
        ),
        (
            "waiting for review",
            [
                f"? {r.lease.name!r} in the PMS is {r.known_name!r} here <{r.lease.email}>, "
                f"unit {r.lease.unit}{' (new)' if new else ''}"
                for new, reviews in ((True, plan.reviews), (False, plan.waiting))
                for r in reviews
            ],
        ),
        ("rejected in review", [f"x {lease.name} <{lease.email}>" for lease in plan.rejected]),
    ]
    for title, lines in sections:
        if lines:
            say(f"{title} ({len(lines)}):", highlight=False)
            for line in lines:
                say(f"  {line}", highlight=False, soft_wrap=True)
    say(f"unchanged: {plan.unchanged}", highlight=False)


@app.command()
def reviews(property_: PropertyOption, as_json: JsonOption = False) -> None:
    """List the PMS partial matches of a property (same email, another name)."""
    with migrated_session() as session:
        prop = find_property(session, property_)
        rows = [_review_json(r) for r in service.list_reviews(session=session, property_id=prop.id)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        console.print("no reviews", highlight=False)
    for row in rows:
        console.print(
            f"{row['id']}  {row['state']:<8}  PMS {row['pms_name']!r}, known as "
            f"{row['known_name']!r} <{row['email']}>, unit {row['unit']}",
            highlight=False,
            soft_wrap=True,
        )


def _review_json(review: PmsReview) -> dict[str, str | None]:
    return {
        "id": review.id,
        "state": review.state.value,
        "pms_name": review.pms_name,
        "known_name": review.known_name,
        "email": review.email,
        "unit": review.unit_label,
    }


@app.command()
def review(
    review_id: Annotated[str, typer.Argument(help="The review's id (see `keyturn pms reviews`).")],
    accept: Annotated[
        bool, typer.Option("--accept", help="The same person: move them in.")
    ] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Not the same person.")] = False,
    now: NowOption = None,
) -> None:
    """Accept or reject one partial match; the next sync acts on the decision."""
    if accept == reject:
        raise UserError("give exactly one of --accept and --reject")
    with migrated_session() as session, session.begin():
        found = session.get(PmsReview, review_id)
        if found is None:
            raise UserError(f"no PMS review {review_id!r}")
        decided = service.decide_review(
            session=session,
            property_id=found.property_id,
            review_id=review_id,
            accept=accept,
            by=None,
            now=now_or_clock(now),
        )
        state = decided.state.value
    console.print(f"review {review_id}: {state}", highlight=False)
