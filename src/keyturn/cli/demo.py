"""`keyturn demo`: the demo building served by the real API, with simulated locks at its doors.

On a fresh data dir it migrates the database, creates a New York City building, starts the
server, provisions a reference lock per door over HTTP and lets simulated residents use them;
it prints the portal and app URLs with the logins first, then the API docs URL and ready-made
API tokens; `--for 15s` stops by itself and prints a summary. SIGUSR1, or typing "offline" and
"online" at an interactive terminal, takes the cloud offline (its server stops listening) and
back, while the locks keep deciding and retry their syncs.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from fastapi import FastAPI
from rich import box
from rich.table import Table
from sqlalchemy import Engine

from keyturn.cli.context import console, err_console, settings
from keyturn.cloud import db as database
from keyturn.cloud.app import create_app
from keyturn.errors import UserError
from keyturn.lock.agent import Attempt
from keyturn.rules.types import DoorKind
from keyturn.settings import PHOTO_DIR, Settings
from keyturn.sim.demo_building import (
    LOGINS_FILE,
    RESIDENTS_FILE,
    DemoBuilding,
    DemoDoor,
    ensure_demo_building,
)
from keyturn.sim.demo_incidents import replace_a_lost_lock, stage_alarms
from keyturn.sim.demo_locks import (
    DEFAULT_RATE,
    LOCKS_DIR,
    DemoLock,
    DemoTraffic,
    Tally,
    close_locks,
    cloud_view,
    open_locks,
)
from keyturn.sim.demo_tokens import TOKENS_FILE, DemoToken, ensure_demo_tokens

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
STARTUP_TIMEOUT_S = 30.0
HEALTH_TIMEOUT_S = 10.0
MAX_RATE = 50.0  # attempts per second; beyond this the demo measures the machine, not Keyturn
OFFLINE, ONLINE, TOGGLE = "offline", "online", "toggle"
POLL_S = 0.5


def parse_duration(text: str, option: str = "--for") -> timedelta:
    """'15s', '2m', '1h', '500ms' or a bare number of seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise UserError(f"{option}: {text!r} is not a duration like 15s, 2m or 1h")
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


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _health(base: str) -> str:
    try:
        return str(httpx.get(f"{base}/api/v1/health", timeout=HEALTH_TIMEOUT_S).json()["status"])
    except (httpx.HTTPError, ValueError, KeyError):
        return "unreachable"


class CloudSwitch:
    """The demo's cloud: its HTTP server, which stops listening and starts again on the same
    port while the locks (their clocks, keypads and near-field endpoints) keep running."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def online(self) -> bool:
        return self.server is not None

    def running(self) -> bool:
        """False when the server is meant to be online but its thread ended."""
        return self.thread is None or self.thread.is_alive()

    def start(self) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=self.host,
                port=self.port,
                log_level="warning",
                proxy_headers=False,  # the app judges forwarded headers (KEYTURN_TRUSTED_PROXIES)
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, name="keyturn-demo-server", daemon=True
        )
        self.thread.start()
        _wait_started(self.server, self.thread)

    def stop(self) -> None:
        if self.server is None or self.thread is None:
            return
        self.server.should_exit = True
        self.thread.join(STARTUP_TIMEOUT_S)
        self.server, self.thread = None, None


def _read_commands(commands: queue.SimpleQueue[str]) -> None:
    """At an interactive terminal: "offline" and "online" switch the cloud."""
    for line in sys.stdin:
        word = line.strip().lower()
        if word in (OFFLINE, ONLINE):
            commands.put(word)
        elif word:
            console.print('type "offline" or "online" (Ctrl-C stops the demo)', highlight=False)


def _switch(cloud: CloudSwitch, traffic: DemoTraffic, command: str, base: str) -> None:
    """Take the cloud offline or bring it back, and say what that means for the locks."""
    offline = command == OFFLINE or (command == TOGGLE and cloud.online)
    if offline and cloud.online:
        cloud.stop()
        traffic.going_offline()
        console.print(
            f"cloud OFFLINE: nothing listens at {base} now; the locks keep deciding on their "
            'own and their syncs fail and are retried (SIGUSR1 or "online" brings it back)',
            highlight=False,
        )
    elif not offline and not cloud.online:
        cloud.start()
        traffic.cloud_offline.clear()
        console.print(
            f"cloud ONLINE again at {base}: {_offline_words(traffic.offline_tally)} reach the "
            "cloud at each lock's next sync",
            highlight=False,
        )


def _offline_words(tally: Tally) -> str:
    return (
        f"{tally.attempts} attempts the locks decided offline ({tally.granted} granted, "
        f"{tally.doorcodes} with a doorcode)"
    )


def _offline_code(door: str, attempt: Attempt) -> None:
    outcome = "granted" if attempt.granted else f"denied ({attempt.decision.reason.value})"
    console.print(
        f"offline: the lock at {door} decided a doorcode by itself, {outcome}, and journaled it",
        highlight=False,
    )


def demo(
    run_for: Annotated[
        str | None,
        typer.Option("--for", help="Stop by itself after this long (e.g. 15s) and summarise."),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(help="Delete the demo's SQLite database, locks and tokens first; start over."),
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port; 0 or a busy port picks a free one.", min=0, max=65535)
    ] = 8000,
    rate: Annotated[
        float,
        typer.Option(
            help="Attempts per second at all doors together; 0: none.", min=0, max=MAX_RATE
        ),
    ] = DEFAULT_RATE,
    sync_every: Annotated[
        str, typer.Option("--sync-every", help="How often each lock syncs (e.g. 5s).")
    ] = "5s",
) -> None:
    """Create the demo building, serve it with simulated locks, and say what to open."""
    duration = parse_duration(run_for) if run_for is not None else None
    sync_every_s = parse_duration(sync_every, "--sync-every").total_seconds()
    if sync_every_s <= 0:
        raise UserError("--sync-every: must be longer than 0 s")
    config = settings()
    data_dir = config.ensure_data_dir()
    url = config.resolved_database_url
    if fresh:
        if config.database_url:
            raise UserError("--fresh only resets the default SQLite database in the data dir")
        _start_over(data_dir)
    database.upgrade(url, "head")
    database.require_current_schema(url, "run `keyturn demo --fresh` to start the demo over")
    engine = database.make_engine(url)
    try:
        building = ensure_demo_building(engine, config.master_key_bytes(), data_dir)
        tokens = ensure_demo_tokens(engine, building.property_id, data_dir, datetime.now(UTC))
        if port == 0 or not _port_is_free(host, port):
            port = _free_port(host)
        failure = _serve(config, engine, building, tokens, host, port, duration, rate, sync_every_s)
    finally:
        engine.dispose()
    if failure is not None:
        err_console.print(failure, highlight=False, markup=False)
        raise UserError("the simulated locks stopped on an unexpected error (above)")


def _start_over(data_dir: Path) -> None:
    """Delete the demo's SQLite database and everything that belongs to it."""
    for leftover in data_dir.glob("keyturn.db*"):
        leftover.unlink()
    for name in (LOGINS_FILE, RESIDENTS_FILE, TOKENS_FILE):
        (data_dir / name).unlink(missing_ok=True)
    # Lock state and photos belong to the database just deleted.
    for folder in (LOCKS_DIR, PHOTO_DIR):
        shutil.rmtree(data_dir / folder, ignore_errors=True)


def _serve(
    config: Settings,
    engine: Engine,
    building: DemoBuilding,
    tokens: tuple[DemoToken, ...],
    host: str,
    port: int,
    duration: timedelta | None,
    rate: float,
    sync_every_s: float,
) -> str | None:
    """Serve the API with the locks and residents at work until the time is up or Ctrl-C.

    Returns the traceback of an unexpected failure of the simulated locks, if any.
    """
    cloud = CloudSwitch(create_app(config, engine), host, port)
    base = f"http://{host}:{port}"
    locks: list[DemoLock] = []
    traffic: DemoTraffic | None = None
    started = time.monotonic()
    commands: queue.SimpleQueue[str] = queue.SimpleQueue()
    # A service manager's SIGTERM stops the demo as cleanly as Ctrl-C does; SIGUSR1 switches
    # the cloud offline and back (SimpleQueue.put is safe in a signal handler).
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    previous_sigusr1 = signal.signal(signal.SIGUSR1, lambda _n, _f: commands.put(TOGGLE))
    try:
        cloud.start()
        now = datetime.now(UTC)
        replace_a_lost_lock(
            engine, _first_unit_door(building), base, building.data_dir / LOCKS_DIR / "lost", now
        )
        locks = open_locks(engine, building, base, building.data_dir, now)
        stage_alarms({item.door.name: item.lock for item in locks if not item.reused})
        traffic = DemoTraffic(
            engine, config.master_key_bytes(), base, building, locks, rate, sync_every_s
        )
        traffic.on_offline_code = _offline_code
        traffic.start()
        _print_welcome(building, base, _health(base), tokens, locks, rate, sync_every_s)
        if sys.stdin is not None and sys.stdin.isatty():
            threading.Thread(target=_read_commands, args=(commands,), daemon=True).start()
        if duration is None:
            console.print("press Ctrl-C to stop")
        _run_until_done(cloud, traffic, commands, base, duration)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        if traffic is not None:
            if not cloud.online:
                _switch(cloud, traffic, ONLINE, base)  # the locks' last syncs need the cloud
            traffic.stop()
            _print_summary(building, base, engine, traffic, started)
        cloud.stop()
        close_locks(locks)
        signal.signal(signal.SIGTERM, previous_sigterm)
        signal.signal(signal.SIGUSR1, previous_sigusr1)
    return traffic.failure if traffic is not None else None


def _run_until_done(
    cloud: CloudSwitch,
    traffic: DemoTraffic,
    commands: queue.SimpleQueue[str],
    base: str,
    duration: timedelta | None,
) -> None:
    """Serve, switching the cloud when asked, until the time is up or the server fails."""
    deadline = None if duration is None else time.monotonic() + duration.total_seconds()
    while True:
        left = POLL_S if deadline is None else deadline - time.monotonic()
        if left <= 0:
            return
        try:
            command = commands.get(timeout=min(POLL_S, left))
        except queue.Empty:
            if not cloud.running():
                return  # the server stopped by itself; its messages are above
            continue
        _switch(cloud, traffic, command, base)


def _first_unit_door(building: DemoBuilding) -> DemoDoor:
    return next(door for door in building.doors if door.kind == DoorKind.RESIDENCE)


def _print_welcome(
    building: DemoBuilding,
    base: str,
    health: str,
    tokens: tuple[DemoToken, ...],
    locks: list[DemoLock],
    rate: float,
    sync_every_s: float,
) -> None:
    console.rule(f"Keyturn demo: {building.property_name}")
    console.print(f"Portal   {base}/portal/  (managers' logins)", highlight=False)
    console.print(f"App      {base}/app/  (the resident's login)", highlight=False)
    logins = Table(title=f"demo logins (kept in {LOGINS_FILE})")
    logins.add_column("role")
    for whole in ("email", "password"):  # copied from here: never cut or wrapped
        logins.add_column(whole, no_wrap=True, overflow="ignore")
    for login in building.logins:
        logins.add_row(login.role, login.email, login.password)
    console.print(logins)
    console.print(
        "The resident's login opens the app (/app/); the managers' logins open the portal.",
        highlight=False,
    )
    near = sum(item.near_field is not None for item in locks)
    console.print(
        f"Doors    {base}/app/properties/{building.property_id}/phone  (sign in as the "
        f"resident: this browser becomes their phone key; {near} locks answer it on loopback)",
        highlight=False,
    )
    console.print(f"API      {base}/api/v1  (health: {health})", highlight=False)
    console.print(f"API docs {base}/docs", highlight=False)
    console.print(f"data     {building.data_dir}", highlight=False)
    console.print(
        f"offline  kill -USR1 {os.getpid()} (or type offline / online here) stops the cloud "
        "listening while the locks keep deciding, and brings it back",
        highlight=False,
    )
    reused = sum(item.reused for item in locks)
    console.print(
        f"locks    {len(locks)} ({reused} found in the data dir, {len(locks) - reused} "
        f"provisioned over HTTP now), each syncing every {sync_every_s:g} s; "
        f"simulated residents make about {rate:g} attempts/s",
        highlight=False,
    )
    console.print()
    console.print(
        f"API tokens (demo only: kept in plain text in {TOKENS_FILE}, readable by you alone)",
        highlight=False,
    )
    events = f"{base}/api/v1/properties/{building.property_id}/events"
    for token in tokens:
        console.print(f"  {token.role} ({token.scope}) {token.email}", highlight=False)
        console.print(
            f'    curl -H "Authorization: Bearer {token.token}" {events}',
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return f"{(datetime.now(UTC) - moment).total_seconds():.1f} s ago"


def _print_summary(
    building: DemoBuilding, base: str, engine: Engine, traffic: DemoTraffic, started: float
) -> None:
    cloud = cloud_view(engine, building.property_id)
    tally = traffic.tally
    locks = Table(
        "door",
        "model",
        "lock",
        "attempts",
        "in cloud",
        "last sync",
        title="locks: attempts in this run, events in the cloud from every run",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for item in traffic.locks:
        device = item.lock.device_id
        note = f" ({item.failed_syncs} failed: {item.last_error})" if item.failed_syncs else ""
        locks.add_row(
            item.door.name,
            item.model,
            device[:8],
            str(item.attempts),
            str(cloud.events_by_device.get(device, 0)),
            _ago(cloud.last_sync_by_device.get(device)) + note,
        )
    console.print(locks)
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
    reused = sum(item.reused for item in traffic.locks)
    table.add_row("locks", f"{len(traffic.locks)} ({reused} reused from the data dir)")
    denied = ", ".join(f"{n} {reason}" for reason, n in sorted(tally.denied.items())) or "none"
    table.add_row("attempts", f"{tally.attempts} ({tally.granted} granted; denied: {denied})")
    table.add_row("events in cloud", str(cloud.events))
    table.add_row("server", f"{base} (health: {_health(base)})")
    table.add_row("ran for", f"{time.monotonic() - started:.1f} s")
    console.print(table)
