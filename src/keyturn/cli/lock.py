"""`keyturn lock`: provision a lock against a cloud, run it as a process, show its status.

The lock keeps its files in --lock-dir (default: <data dir>/lock); `run` reads commands on
stdin and prints one JSON line per event.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from keyturn.cli.context import console, settings
from keyturn.errors import UserError
from keyturn.lock.agent import Lock
from keyturn.lock.errors import LockError
from keyturn.lock.provision import provision_with_cloud
from keyturn.lock.runner import HELP, serve, status_json
from keyturn.lock.sync import HttpTransport

app = typer.Typer(help="Run the reference lock (device agent).", no_args_is_help=True)

LockDir = Annotated[
    Path | None, typer.Option(help="The lock's data dir (default: <data dir>/lock).")
]


def _lock_dir(lock_dir: Path | None) -> Path:
    return lock_dir if lock_dir is not None else settings().data_dir / "lock"


def _open(lock_dir: Path | None, power_lost: bool = False) -> Lock:
    try:
        return Lock.open(_lock_dir(lock_dir), power_lost=power_lost)
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
    lock_dir: LockDir = None,
) -> None:
    """Run the lock: commands on stdin, one JSON line per event on stdout."""
    lock = _open(lock_dir, power_lost)
    transport = HttpTransport(cloud) if cloud else None
    sys.stderr.write(HELP + "\n")
    try:
        serve(lock, sys.stdin, sys.stdout, transport, sync_every)
    finally:
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
