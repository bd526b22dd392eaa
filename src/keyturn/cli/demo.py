"""`keyturn demo`: a demo building served by a real API server on SQLite.

On a fresh data dir it migrates the database, creates a New York City building, starts the
server and prints what to open; `--for 15s` stops by itself and prints a summary.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta
from typing import Annotated

import httpx
import typer
import uvicorn
from rich.table import Table

from keyturn.cli.context import console, settings
from keyturn.cloud import db as database
from keyturn.cloud.app import create_app
from keyturn.errors import UserError
from keyturn.sim.demo_building import DemoBuilding, ensure_demo_building

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
STARTUP_TIMEOUT_S = 30.0


def parse_duration(text: str) -> timedelta:
    """'15s', '2m', '1h', '500ms' or a bare number of seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise UserError(f"--for: {text!r} is not a duration like 15s, 2m or 1h")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2] or "s"])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((host, port)) != 0


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise UserError("the demo server stopped while starting; see the messages above")
        if time.monotonic() > deadline:
            raise UserError(f"the demo server did not start within {STARTUP_TIMEOUT_S:.0f} s")
        thread.join(0.05)


def demo(
    run_for: Annotated[
        str | None,
        typer.Option("--for", help="Stop by itself after this long (e.g. 15s) and summarise."),
    ] = None,
    fresh: Annotated[
        bool, typer.Option(help="Delete the demo's SQLite database first and start over.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port; 0 or a busy port picks a free one.", min=0, max=65535)
    ] = 8000,
) -> None:
    """Create the demo building, serve it, and say what to open."""
    duration = parse_duration(run_for) if run_for is not None else None
    config = settings()
    data_dir = config.ensure_data_dir()
    url = config.resolved_database_url
    if fresh:
        if config.database_url:
            raise UserError("--fresh only resets the default SQLite database in the data dir")
        for leftover in data_dir.glob("keyturn.db*"):
            leftover.unlink()
    database.upgrade(url, "head")
    engine = database.make_engine(url)
    building = ensure_demo_building(engine, config.master_key_bytes(), data_dir)

    if port == 0 or not _port_is_free(host, port):
        port = _free_port(host)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config, engine), host=host, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="keyturn-demo-server", daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        _wait_started(server, thread)
        base = f"http://{host}:{port}"
        health = httpx.get(f"{base}/api/v1/health", timeout=10).json()
        _print_welcome(building, base, health.get("status", "unknown"))
        if duration is None:
            console.print("press Ctrl-C to stop")
            while thread.is_alive():
                thread.join(0.5)
        else:
            thread.join(duration.total_seconds())
            health = httpx.get(f"{base}/api/v1/health", timeout=10).json()
            _print_summary(building, base, health.get("status", "unknown"), started)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_S)
        engine.dispose()


def _print_welcome(building: DemoBuilding, base: str, health: str) -> None:
    console.rule(f"Keyturn demo: {building.property_name}")
    console.print(f"API      {base}/api/v1/health  (health: {health})")
    console.print(f"API docs {base}/docs")
    console.print(f"data     {building.data_dir}")
    logins = Table("role", "email", "password", title="demo logins (kept in demo-logins.json)")
    for login in building.logins:
        logins.add_row(login.role, login.email, login.password)
    console.print(logins)


def _print_summary(building: DemoBuilding, base: str, health: str, started: float) -> None:
    table = Table(title="Keyturn demo summary", show_header=False)
    table.add_row("building", f"{building.property_name} ({building.jurisdiction})")
    table.add_row("time zone", building.time_zone)
    table.add_row(
        "doors", ", ".join(f"{n} {kind}" for kind, n in sorted(building.doors_by_kind.items()))
    )
    table.add_row("units", str(building.units))
    table.add_row(
        "people", ", ".join(f"{n} {role}" for role, n in sorted(building.people_by_role.items()))
    )
    table.add_row("server", f"{base} (health: {health})")
    table.add_row("ran for", f"{time.monotonic() - started:.1f} s")
    console.print(table)
