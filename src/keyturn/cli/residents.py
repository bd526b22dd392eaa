"""`keyturn resident`: move residents in and out from the server's shell, by names and emails.

Dates are the property's local time (a bare date is its local midnight); the operator acts
without a person behind them: the audit record shows the changes as the operator's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cli.arguments import find_property, migrated_session
from keyturn.cli.context import console, settings
from keyturn.cloud import db as database
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.models import Person, Property, RoleMembership, Unit
from keyturn.cloud.people.profiles import read_profile_at
from keyturn.cloud.people.residency import service as residency
from keyturn.cloud.people.service import add_person
from keyturn.errors import UserError
from keyturn.rules.types import Role

app = typer.Typer(help="Move residents in and out, and list residencies.", no_args_is_help=True)

LOCAL_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
PropertyOption = Annotated[str, typer.Option("--property", help="The property's name or id.")]
UnitOption = Annotated[str, typer.Option("--unit", help="The unit's label, e.g. 4B.")]
EmailOption = Annotated[str, typer.Option("--email", help="The resident's email.")]


def _unit(session: Session, prop: Property, label: str) -> Unit:
    unit = session.scalars(
        select(Unit).where(Unit.property_id == prop.id, Unit.label == label)
    ).first()
    if unit is None:
        raise UserError(f"no unit {label!r} at {prop.name}")
    return unit


def _person(session: Session, email: str) -> Person | None:
    return session.scalars(select(Person).where(Person.email == email.strip().lower())).first()


def _local(prop: Property, moment: datetime | None) -> datetime | None:
    """A time the operator typed, read in the property's zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=prop.zone)


def _shown(prop: Property, moment: datetime | None) -> str:
    return moment.astimezone(prop.zone).strftime("%Y-%m-%d %H:%M") if moment else "-"


@app.command("move-in")
def move_in(
    property_name: PropertyOption,
    unit_label: UnitOption,
    email: EmailOption,
    name: Annotated[
        str | None, typer.Option(help="The resident's name, for someone not yet known.")
    ] = None,
    starts: Annotated[
        datetime | None,
        typer.Option("--from", help="Move-in, local time (default: now).", formats=LOCAL_FORMATS),
    ] = None,
    ends: Annotated[
        datetime | None,
        typer.Option(
            "--until", help="Lease end, local time (default: open).", formats=LOCAL_FORMATS
        ),
    ] = None,
) -> None:
    """Move a person into a unit: the resident role and the unit's key over the lease."""
    config = settings()
    now = database.utcnow()
    with migrated_session() as session:
        prop = find_property(session, property_name)
        unit = _unit(session, prop, unit_label)
        person = _person(session, email)
        if person is None:
            if name is None:
                raise UserError(f"nobody has the email {email}: give --name to add them")
            person = add_person(session=session, display_name=name, email=email, now=now)
        membership = residency.move_in(
            session=session,
            master_key=config.master_key_bytes(),
            property_id=prop.id,
            person_id=person.id,
            unit_id=unit.id,
            starts_at=_local(prop, starts) or now,
            ends_at=_local(prop, ends),
            by=None,
            now=now,
            welcome=AuthConfig(),
        )
        session.commit()
        until = f" until {_shown(prop, membership.ends_at)}" if membership.ends_at else ""
        console.print(
            f"{person.display_name} <{person.email}> lives in {unit.label} at {prop.name} from "
            f"{_shown(prop, membership.starts_at)}{until}",
            highlight=False,
        )


@app.command("move-out")
def move_out(
    property_name: PropertyOption,
    unit_label: UnitOption,
    email: EmailOption,
    at: Annotated[
        datetime | None,
        typer.Option(
            "--at", help="Schedule it at this local time (default: now).", formats=LOCAL_FORMATS
        ),
    ] = None,
) -> None:
    """Move a resident out now (revoking what depended on the residency) or at --at."""
    config = settings()
    now = database.utcnow()
    with migrated_session() as session:
        prop = find_property(session, property_name)
        unit = _unit(session, prop, unit_label)
        person = _person(session, email)
        membership = None
        if person is not None:
            membership = session.scalars(
                select(RoleMembership).where(
                    RoleMembership.person_id == person.id,
                    RoleMembership.property_id == prop.id,
                    RoleMembership.unit_id == unit.id,
                    RoleMembership.role == Role.RESIDENT,
                    RoleMembership.in_force(),
                )
            ).first()
        if person is None or membership is None:
            raise UserError(f"{email} does not live in {unit.label} at {prop.name}")
        report = residency.move_out(
            session=session,
            master_key=config.master_key_bytes(),
            property_id=prop.id,
            membership_id=membership.id,
            at=_local(prop, at) or now,
            by=None,
            now=now,
        )
        session.commit()
        _print_move_out(prop, unit, person, report)


def _print_move_out(prop: Property, unit: Unit, person: Person, report: residency.MoveOut) -> None:
    who = f"{person.display_name} <{person.email}>"
    if report.scheduled:
        console.print(
            f"{who} moves out of {unit.label} at {_shown(prop, report.ends_at)}; the server's "
            "job ends the residency then",
            highlight=False,
        )
    else:
        revoked = ", ".join(f"{n} {kind}" for kind, n in report.revoked.counts().items() if n)
        console.print(
            f"{who} moved out of {unit.label}; revoked: {revoked or 'nothing'}", highlight=False
        )
    if report.locks:
        table = Table("door", "lock", "applied", "last sync")
        for lock in report.locks:
            table.add_row(
                lock.door_name,
                lock.device_id[:8],
                "yes" if lock.applied else "at its next sync",
                _shown(prop, lock.last_sync_at),
            )
        console.print(table)


@app.command("list")
def list_(
    property_name: PropertyOption,
    unit_label: Annotated[str | None, typer.Option("--unit", help="Only this unit.")] = None,
) -> None:
    """List the property's residencies with their dates and state."""
    now = database.utcnow()
    with migrated_session() as session:
        prop = find_property(session, property_name)
        unit_id = _unit(session, prop, unit_label).id if unit_label else None
        rows = list(session.scalars(residency.residencies_at(prop.id, unit_id)))
        if not rows:
            console.print("no residencies")
            return
        labels = {
            unit_id: label
            for unit_id, label in session.execute(
                select(Unit.id, Unit.label).where(Unit.property_id == prop.id)
            )
        }
        table = Table("unit", "name", "email", "from", "until", "state")
        for row in rows:
            table.add_row(
                labels.get(row.unit_id or "", "-"),
                read_profile_at(session, person=row.person, property_id=prop.id).display_name,
                row.person.email or "-",
                _shown(prop, row.starts_at),
                _shown(prop, row.ends_at),
                residency.residency_state(row, now).value.replace("_", " "),
            )
        console.print(table)
