"""`keyturn device`: enrol locks at doors, retire them, and show how current they are.

These commands act on the database directly, as the operator of the installation; the
HTTP API adds its own permission checks in front of the same services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from keyturn.cli.context import console, settings
from keyturn.cloud.db import make_engine
from keyturn.cloud.devices import service
from keyturn.cloud.sessions import session_factory

app = typer.Typer(help="Enrol, retire and inspect locks.", no_args_is_help=True)


@app.command()
def enroll(
    door: Annotated[str, typer.Option("--door", help="The door id the lock will be bound to.")],
    model: Annotated[str, typer.Option("--model", help="The lock model, e.g. keyturn-r1.")],
) -> None:
    """Print a one-time token that enrols one lock at DOOR within 24 hours."""
    engine = make_engine(settings().resolved_database_url)
    try:
        with session_factory(engine)() as session, session.begin():
            token = service.create_provisioning_token(session, door, model, datetime.now(UTC))
    finally:
        engine.dispose()
    console.print(token, highlight=False, soft_wrap=True)


@app.command()
def retire(
    device_id: Annotated[str, typer.Argument(help="The lock to retire.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: broken, stolen, replaced.")],
) -> None:
    """Stop a lock from syncing and record what it never uploaded as a log gap."""
    engine = make_engine(settings().resolved_database_url)
    try:
        with session_factory(engine)() as session, session.begin():
            device = service.retire_device(session, device_id, datetime.now(UTC), reason)
            console.print(
                f"lock {device.id} retired; entries after {device.stored_through_seq} "
                "are recorded as lost"
            )
    finally:
        engine.dispose()
