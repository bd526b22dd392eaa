"""`keyturn device`: enrol locks at doors, retire them, and list every door with its lock.

These commands act on the database directly, as the operator of the installation; the
HTTP API adds its own permission checks in front of the same services.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import select

from keyturn.cli.arguments import find_property, migrated_session
from keyturn.cli.context import console, settings
from keyturn.cloud.db import make_engine
from keyturn.cloud.devices import service
from keyturn.cloud.devices.listing import DoorLock, doors_with_locks
from keyturn.cloud.models import Property
from keyturn.cloud.sessions import session_factory
from keyturn.settings import MASTER_KEY_FILE

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


@app.command("list")
def list_(
    property_: Annotated[
        str | None,
        typer.Option("--property", help="Only this property, by id or name (default: all)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List every door with its lock: model, capabilities, firmware, battery, last sync,
    access list applied against the newest, and log gaps; doors with no lock say so."""
    now = datetime.now(UTC)
    master_key = _master_key_if_kept()
    listed: list[tuple[Property, list[DoorLock]]] = []
    with migrated_session() as session:
        if property_ is None:
            properties = list(session.scalars(select(Property).order_by(Property.name)))
        else:
            properties = [find_property(session, property_)]
        for prop in properties:
            doors = doors_with_locks(
                session=session, property_id=prop.id, now=now, master_key=master_key
            )
            listed.append((prop, doors))
        # Health read with the master key publishes a changed access list, as a sync would.
        session.commit()
        if as_json:
            typer.echo(json.dumps([_property_json(prop, doors) for prop, doors in listed]))
            return
        for prop, doors in listed:
            console.print(_table(prop, doors, now))


def _master_key_if_kept() -> bytes | None:
    """The master key when this installation has one; never a new one made for a listing."""
    current = settings()
    if current.master_key or (current.data_dir / MASTER_KEY_FILE).exists():
        return current.master_key_bytes()
    return None


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    hours = minutes // 60
    return f"{hours} h ago" if hours < 48 else f"{hours // 24} days ago"


def _table(prop: Property, doors: list[DoorLock], now: datetime) -> Table:
    zone = ZoneInfo(prop.time_zone)
    table = Table(
        "door",
        "kind",
        "lock",
        "model",
        "capabilities",
        "firmware",
        "battery",
        "last sync",
        "access list",
        "log gaps",
        title=f"{prop.name} ({prop.time_zone})",
    )
    for door in doors:
        lock = door.lock
        if lock is None:
            table.add_row(door.door_name, door.door_kind, "no lock", *("-",) * 7)
            continue
        synced = "never"
        if lock.last_sync_at is not None:
            local = lock.last_sync_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
            synced = f"{local} ({_ago((now - lock.last_sync_at).total_seconds())})"
        behind = "current" if lock.versions_behind == 0 else f"{lock.versions_behind} behind"
        table.add_row(
            door.door_name,
            door.door_kind,
            lock.device_id[:8] + (" (retired)" if lock.retired else ""),
            lock.model,
            ", ".join(door.capabilities),
            str(lock.firmware_version),
            "-" if lock.battery_pct is None else f"{lock.battery_pct}%",
            synced,
            f"v{lock.applied_access_list_version} of v{lock.current_access_list_version} "
            f"({behind})",
            str(door.log_gap_count),
        )
    return table


def _property_json(prop: Property, doors: list[DoorLock]) -> dict[str, Any]:
    return {
        "property_id": prop.id,
        "name": prop.name,
        "time_zone": prop.time_zone,
        "doors": [_door_json(door) for door in doors],
    }


def _door_json(door: DoorLock) -> dict[str, Any]:
    lock = door.lock
    return {
        "door_id": door.door_id,
        "name": door.door_name,
        "kind": door.door_kind,
        "lock": None
        if lock is None
        else {
            "device_id": lock.device_id,
            "model": lock.model,
            "capabilities": list(door.capabilities),
            "retired": lock.retired,
            "firmware_version": lock.firmware_version,
            "battery_pct": lock.battery_pct,
            "last_sync_at": None if lock.last_sync_at is None else lock.last_sync_at.isoformat(),
            "applied_access_list_version": lock.applied_access_list_version,
            "current_access_list_version": lock.current_access_list_version,
            "versions_behind": lock.versions_behind,
            "log_gap_count": door.log_gap_count,
        },
    }
