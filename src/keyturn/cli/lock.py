"""`keyturn lock`: provision a lock against a cloud, run it as a process, show its status.

The lock keeps its files in --lock-dir (default: <data dir>/lock); `run` reads commands on
stdin and prints one JSON line per event.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from keyturn.cli.context import console, settings
from keyturn.errors import UserError
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.errors import LockError
from keyturn.lock.near_field import NearField
from keyturn.lock.provision import provision_with_cloud
from keyturn.lock.runner import HELP, serve, status_json
from keyturn.lock.sync import HttpTransport

app = typer.Typer(help="Run the reference lock (device agent).", no_args_is_help=True)

LockDir = Annotated[
    Path | None, typer.Option(help="The lock's data dir (default: <data dir>/lock).")
]


def _lock_dir(lock_dir: Path | None) -> Path:
    return lock_dir if lock_dir is not None else settings().data_dir / "lock"


def _open(
    lock_dir: Path | None, power_lost: bool = False, clock: ManualClock | None = None
) -> Lock:
    try:
        return Lock.open(_lock_dir(lock_dir), clock, power_lost=power_lost)
    except LockError as exc:
        raise UserError(str(exc)) from None


@app.command()
def provision(
    cloud: Annotated[str, typer.Option(help="The cloud's base URL.")],
    token: Annotated[str, typer.Option(help="One-time provisioning token from the portal.")],
    model: Annotated[
        str | None,
        typer.Option(
            help="The lock model name; by default the one the token names (refused if it differs)."
        ),
    ] = None,
    lock_dir: LockDir = None,
) -> None:
    """Make the lock's key pair and fetch its door configuration from the cloud."""
    try:
        config = provision_with_cloud(_lock_dir(lock_dir), cloud, token, model)
    except LockError as exc:
        raise UserError(str(exc)) from None
    console.print(
        f"provisioned lock [bold]{config.device_id}[/] for door {config.door_id} "
        f"({config.door_kind.value}) in {_lock_dir(lock_dir)}",
        highlight=False,
    )


@app.command()
def run(
    cloud: Annotated[str | None, typer.Option(help="Sync with this cloud over HTTP.")] = None,
    sync_every: Annotated[float, typer.Option(help="Seconds between syncs.")] = 60.0,
    power_lost: Annotated[bool, typer.Option(help="Start as after a power cut.")] = False,
    near_field_port: Annotated[
        int | None,
        typer.Option(
            help="Serve the near-field messages on 127.0.0.1 at this port (0: a free one); "
            "the first line printed names the URL."
        ),
    ] = None,
    test_hooks: Annotated[
        bool,
        typer.Option(
            help="For tests only: run on a manual clock that POST <near-field>/test/clock sets."
        ),
    ] = False,
    lock_dir: LockDir = None,
) -> None:
    """Run the lock: commands on stdin, one JSON line per event on stdout."""
    if test_hooks and near_field_port is None:
        raise UserError("--test-hooks needs --near-field-port")
    clock = ManualClock(datetime.now(UTC)) if test_hooks else None
    lock = _open(lock_dir, power_lost, clock)
    transport = HttpTransport(cloud) if cloud else None
    guard = threading.RLock()
    near_field = None
    if near_field_port is not None:
        near_field = NearField(lock, port=near_field_port, guard=guard, test_clock=clock).start()
        typer.echo(json.dumps({"event": "near_field", "url": near_field.url}))
    sys.stderr.write(HELP + "\n")
    try:
        serve(lock, sys.stdin, sys.stdout, transport, sync_every, guard)
    finally:
        if near_field is not None:
            near_field.stop()
        if transport is not None:
            transport.close()
        lock.close()


@app.command()
def status(lock_dir: LockDir = None) -> None:
    """Print the lock's state as JSON."""
    lock = _open(lock_dir)
    try:
        typer.echo(json.dumps(status_json(lock)))
    finally:
        lock.close()
