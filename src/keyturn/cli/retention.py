"""`keyturn retention`: apply each property's retention, show the policies, set an override.

`run` prints per property and jurisdiction what was (with --dry-run: would be) anonymised or
deleted, with a progress bar on a terminal; `show` lists each policy and its next deadlines;
`set` shortens one property's retention (never past the law) or resets it. `--now` runs or
shows everything as if it were another instant, for dry runs and drills.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cli.arguments import (
    NowOption,
    find_property,
    migrated_session,
    migrated_sessions,
    now_or_clock,
)
from keyturn.cli.context import console, settings
from keyturn.cloud.models import Property
from keyturn.cloud.privacy.retention.override import change_override
from keyturn.cloud.privacy.retention.service import (
    PROPERTY_COUNTS,
    SERVICE_COUNTS,
    Checkpoint,
    RetentionReport,
    run_retention,
)
from keyturn.cloud.privacy.retention.status import RetentionStatus, status_of
from keyturn.errors import UserError

app = typer.Typer(help="Apply or show the retention of access history.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


@app.command()
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; change nothing.")
    ] = False,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Anonymise and delete what each property's retention no longer allows, and report it.

    With --dry-run --now, a drill: what that day's run will remove, with nothing changed.
    """
    moment = now_or_clock(now)
    photo_dir = settings().photo_dir
    with migrated_sessions() as factory:
        if dry_run or as_json or not console.is_terminal:
            report = run_retention(factory, moment, photo_dir=photo_dir, dry_run=dry_run)
        else:
            report = _run_with_progress(factory, moment)
    if as_json:
        typer.echo(json.dumps(report.as_json()))
        return
    _print_report(report)


def _run_with_progress(factory: sessionmaker[Session], now: datetime) -> RetentionReport:
    photo_dir = settings().photo_dir
    planned = run_retention(factory, now, photo_dir=photo_dir, dry_run=True)
    total = sum(planned.total(count) for count in (*PROPERTY_COUNTS, *SERVICE_COUNTS))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("retention", total=total or None)

        def advance(checkpoint: Checkpoint) -> None:
            if checkpoint.stage == "after_commit":
                progress.update(task, advance=checkpoint.rows, description=checkpoint.step)

        return run_retention(factory, now, photo_dir=photo_dir, hook=advance)


def _print_report(report: RetentionReport) -> None:
    verb = "would change" if report.dry_run else "changed"
    table = Table(
        "property",
        "jurisdiction",
        "days",
        *(count.replace("_", " ") for count in PROPERTY_COUNTS),
        title=f"retention as of {_when(report.now)} ({verb})",
    )
    for sweep in report.properties:
        table.add_row(
            sweep.name,
            sweep.jurisdiction,
            str(sweep.days),
            *(str(sweep.counts[count]) for count in PROPERTY_COUNTS),
        )
    console.print(table)
    service = ", ".join(
        f"{count.replace('_', ' ')}: {report.service[count]}" for count in SERVICE_COUNTS
    )
    console.print(f"service-wide: {service}", highlight=False, soft_wrap=True)


@app.command()
def show(as_json: JsonOption = False, now: NowOption = None) -> None:
    """List each property's retention policy, its limit, its override and its next deadlines."""
    moment = now_or_clock(now)
    with migrated_sessions() as factory, factory() as session:
        properties = session.scalars(select(Property).order_by(Property.name, Property.id))
        statuses = [status_of(session, prop, moment) for prop in properties]
    if as_json:
        typer.echo(json.dumps([_status_json(status) for status in statuses]))
        return
    table = Table(
        "property",
        "jurisdiction",
        "days",
        "limit",
        "override",
        "anonymise before",
        "next anonymisation",
        "next deletion",
        "log gaps",
    )
    for status in statuses:
        retention = status.retention
        override = "-" if retention.override_days is None else str(retention.override_days)
        table.add_row(
            status.name,
            retention.policy.jurisdiction,
            str(retention.policy.days),
            str(retention.policy.limit_days),
            f"{override} (refused)" if retention.override_refused else override,
            _when(retention.anonymise_before),
            _when(status.next_anonymisation_at),
            _when(status.next_deletion_at),
            str(status.log_gap_count),
        )
    console.print(table)


def _status_json(status: RetentionStatus) -> dict[str, object]:
    retention = status.retention

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "property_id": status.property_id,
        "name": status.name,
        "jurisdiction": retention.policy.jurisdiction,
        "retention_days": retention.policy.days,
        "limit_days": retention.policy.limit_days,
        "override_days": retention.override_days,
        "override_refused": retention.override_refused,
        "anonymise_before": iso(retention.anonymise_before),
        "delete_before": iso(retention.delete_before),
        "next_anonymisation_at": iso(status.next_anonymisation_at),
        "next_deletion_at": iso(status.next_deletion_at),
        "log_gaps": status.log_gap_count,
    }


@app.command("set")
def set_(
    property_: Annotated[
        str, typer.Option("--property", help="The property, by id or exact name.")
    ],
    days: Annotated[
        int | None,
        typer.Option("--days", help="Keep access events this many days (at most the law's)."),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Go back to the jurisdiction's retention.")
    ] = False,
    now: NowOption = None,
) -> None:
    """Shorten one property's retention, or reset it with --clear; audited as the operator."""
    if (days is None) == (not clear):
        raise UserError("give either --days N or --clear")
    moment = now_or_clock(now)
    with migrated_session() as session:
        status = change_override(
            session=session,
            property_id=find_property(session, property_).id,
            override_days=days,
            actor_person_id=None,
            now=moment,
        )
        session.commit()
    policy = status.retention.policy
    console.print(
        f"{status.name}: access events kept {policy.days} days "
        f"({'override' if days is not None else 'the jurisdiction'}; "
        f"{policy.jurisdiction} allows {policy.limit_days})",
        highlight=False,
    )
