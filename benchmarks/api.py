"""Cloud API hot paths against raw primitives: sync ingest, /events and mobile-key issuance.

Each backend (SQLite, PostgreSQL) gets a simulated building made by the cloud's own services,
with real locks that have synced once. Ingest: the locks' own signed, sealed frames (500
entries each) go to POST /api/v1/sync of the real app, in-process, against a raw INSERT ...
ON CONFLICT DO NOTHING of the rows sync stored, one transaction per frame, each pass on a
fresh copy of the same database (>= 50% of the raw throughput: a time ratio <= 2). /events:
the first page (100) for a manager and for a resident over KEYTURN_BENCH_EVENTS bulk-loaded
events, in-process, against the same visibility query on the raw driver connection plus
json.dumps of the same fields (median latency <= 2x). Mobile keys: a real uvicorn server on
127.0.0.1 serves the real app plus one bare route; client processes on keep-alive connections
drive each in turn (>= 50% of the bare route's request rate). KEYTURN_BENCH_EVENTS,
KEYTURN_BENCH_SYNC_EVENTS, KEYTURN_BENCH_QUERIES, KEYTURN_BENCH_LOAD_S, KEYTURN_BENCH_ROUNDS
and KEYTURN_BENCH_BACKENDS scale it down; docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from starlette.types import Message

from _load import TOKEN_ENV
from _report import best_of_each, best_of_interleaved, report
from _seed import EVENTS, ScratchDatabases, load_events, scratch_databases
from keyturn.cloud import db, sessions
from keyturn.cloud.app import create_app
from keyturn.cloud.auth import service as auth_service
from keyturn.cloud.auth.deps import public_route
from keyturn.cloud.auth.permissions import ALL_SCOPES
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.history.service import viewer_at
from keyturn.cloud.history.visibility import visible_events
from keyturn.cloud.models import Account, Event, Grant
from keyturn.cloud.privacy.retention.policies import shown_events
from keyturn.lock.agent import DEFAULT_UPLINK_EVENTS, Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.sync import FRAME_CONTENT_TYPE, SYNC_PATH
from keyturn.rules.types import CredentialType, DoorKind, Reason, Role
from keyturn.rules.visibility import Viewer
from keyturn.settings import Settings
from keyturn.sim.building import build

HERE = Path(__file__).resolve().parent
SYNC_EVENTS = int(os.environ.get("KEYTURN_BENCH_SYNC_EVENTS", "20000"))
QUERIES = int(os.environ.get("KEYTURN_BENCH_QUERIES", "200"))
LOAD_S = float(os.environ.get("KEYTURN_BENCH_LOAD_S", "5"))
ROUNDS = int(os.environ.get("KEYTURN_BENCH_ROUNDS", "3"))
BACKENDS = tuple(os.environ.get("KEYTURN_BENCH_BACKENDS", "sqlite,postgresql").split(","))
MASTER_KEY = bytes(range(32))
MASTER_KEY_TEXT = base64.urlsafe_b64encode(MASTER_KEY).decode()
NOW = datetime.now(UTC).replace(microsecond=0)
DOORS = 43  # entrance, gym, package room and 40 units
RESIDENTS = 80
HISTORY_DAYS = 60
PAGE = 100
CLIENTS = 4
WARMUP = 5
SERVER_START_S = 60.0
BARE_PATH = "/bench/bare"
BARE_ASYNC_PATH = "/bench/bare-async"
TARGET_TIME_RATIO = 2.0  # ">= 50% of the raw throughput" as time per item
TABLE_COLUMNS = tuple(column.name for column in Event.__table__.columns)
T = TypeVar("T")


@dataclass
class Frame:
    device_id: str
    from_seq: int
    to_seq: int
    body: bytes


@dataclass
class HistoryDoor:
    id: str
    kind: DoorKind
    device_id: str
    residents: tuple[str, ...]


@dataclass
class World:
    """The building in the template database, the locks' frames and who asks what."""

    property_id: str
    manager_token: str
    resident_token: str
    registration_id: str
    grants_per_phone: int
    frames: list[Frame]
    doors: list[HistoryDoor]
    visitors: list[str]
    staff: list[str]


class AsgiClient:
    """Requests straight into the app's ASGI callable on one event loop, in this process.

    Every request runs the whole app (middleware, routing, dependencies, the route and its
    response) without a socket or Starlette's TestClient, whose thread portal and httpx
    machinery would cost more than some of the routes measured here. A measurement runs as
    one task (`run`), as a server's requests run under its one serving task: anyio stops its
    worker threads when the task that started the loop ends, so a loop run per request would
    start a new worker thread for every request, which no server does.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """What `work` returns, run as the one task every request in it shares."""
        return self.loop.run_until_complete(work())

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        """The status and body of one request."""
        sent = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
        sent.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(params or {}).encode(),
            "root_path": "",
            "headers": sent,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        return await self._call(scope, body)

    async def _call(self, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
        messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    def close(self) -> None:
        self.loop.close()


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        master_key=MASTER_KEY_TEXT,
        retention_interval_s=0,
        outbound_interval_s=0,
        residency_interval_s=0,
    )


def bench_app() -> FastAPI:
    """The real app from KEYTURN_* settings plus the bare routes the baselines call (uvicorn).

    The target's baseline is a plain `def` route, as most of the app's routes are (FastAPI
    runs it and its response validation on worker threads); the `async def` one, which runs
    on the event loop as the mobile-key route now does, is reported beside it.
    """
    app = create_app(Settings())
    marker = public_route("the benchmark's baseline; reveals nothing")

    @app.post(BARE_PATH, dependencies=[marker])
    def bare() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(BARE_ASYNC_PATH, dependencies=[marker])
    async def bare_async() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _token(session: Session, person_id: str) -> str:
    account = session.scalars(select(Account.id).where(Account.person_id == person_id)).one()
    _row, secret = auth_service.issue_token(session, account, "bench", ALL_SCOPES, None, True, NOW)
    return secret


def make_world(url: str, folder: Path) -> World:
    """The building, each lock synced once (so it holds its access list), and the frames."""
    db.upgrade(url)
    engine = db.make_engine(url)
    clock = ManualClock(NOW)
    try:
        with sessions.session_factory(engine)() as session:
            building = build(
                session, MASTER_KEY, random.Random(7), DOORS, RESIDENTS, NOW, folder, clock, []
            )
            # The residents moved in before the history starts: a resident sees only the
            # entries made while they held resident status (V2).
            session.execute(
                update(Grant)
                .where(Grant.resident.is_(True))
                .values(starts_at=NOW - timedelta(days=HISTORY_DAYS + 1))
            )
            session.commit()
            for door in building.doors:
                assert door.lock is not None
                reply = handle_uplink(
                    session, MASTER_KEY, folder / "photos", door.lock.build_uplink(), NOW
                )
                session.commit()
                door.lock.apply_downlink(reply)
            resident = building.residents[0]
            assert resident.registration_id is not None
            manager_token = _token(session, building.manager.id)
            resident_token = _token(session, resident.id)
            session.commit()
    finally:
        engine.dispose()
    residents_at: dict[str, list[str]] = {}
    for person in building.residents:
        assert person.home is not None
        residents_at.setdefault(person.home.id, []).append(person.id)
    doors = []
    for door in building.doors:
        assert door.lock is not None
        doors.append(
            HistoryDoor(
                door.id, door.kind, door.lock.device_id, tuple(residents_at.get(door.id, ()))
            )
        )
    cards = [person.card[0] for person in building.people if person.card is not None]
    shared_locks = [door.lock for door in building.doors[:3] if door.lock is not None]
    frames = lock_frames(shared_locks, clock, cards)
    for door in building.doors:
        assert door.lock is not None
        door.lock.close()
    return World(
        property_id=building.property_id,
        manager_token=manager_token,
        resident_token=resident_token,
        registration_id=resident.registration_id,
        grants_per_phone=2,
        frames=frames,
        doors=doors,
        visitors=[p.id for p in building.people if p.role in (Role.RESIDENT, Role.STAFF)],
        staff=[p.id for p in building.staff],
    )


def lock_frames(locks: Sequence[Lock], clock: ManualClock, cards: Sequence[str]) -> list[Frame]:
    """SYNC_EVENTS attempts at the shared doors, then each lock's uplinks of up to 500 entries.

    The attempts are real decisions journalled by the locks (keycards, unknown cards, the
    mechanical key); each lock's floor is raised after each frame as a downlink would.
    """
    rng = random.Random(11)
    frames = []
    for lock in locks:
        # One transaction for all the attempts: the journal is the same, the setup faster.
        with lock.store.transaction():
            for _ in range(SYNC_EVENTS // len(locks)):
                clock.advance(rng.uniform(1, 30))
                roll = rng.random()
                if roll < 0.05:
                    lock.turn_mechanical_key()
                elif roll < 0.15:
                    lock.present_card(f"{rng.getrandbits(56):014X}")
                else:
                    lock.present_card(rng.choice(cards))
        while lock.journal.last_seq > lock.journal.floor:
            low = lock.journal.floor + 1
            high = min(lock.journal.last_seq, lock.journal.floor + DEFAULT_UPLINK_EVENTS)
            frames.append(Frame(lock.device_id, low, high, lock.build_uplink()))
            lock.journal.prune_through(high)
    return frames


# Ingest ------------------------------------------------------------------------------------


def post_frames(url: str, folder: Path, frames: Sequence[Frame]) -> float:
    """Seconds to POST every frame to the sync endpoint of the real app, in-process."""
    engine = db.make_engine(url)
    try:
        client = AsgiClient(create_app(settings_for(url, folder), engine))
        headers = {"content-type": FRAME_CONTENT_TYPE}

        async def post_all() -> float:
            assert (await client.request("GET", "/api/v1/health"))[0] == 200
            started = time.perf_counter()
            for frame in frames:
                status, body = await client.request(
                    "POST", SYNC_PATH, headers=headers, body=frame.body
                )
                assert status == 200, body
            return time.perf_counter() - started

        elapsed = client.run(post_all)
        client.close()
        return elapsed
    finally:
        engine.dispose()


def stored_rows(url: str, frames: Sequence[Frame]) -> list[list[tuple[Any, ...]]]:
    """The event rows sync stored, as the raw driver returns them, grouped by frame."""
    engine = db.make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT {','.join(TABLE_COLUMNS)} FROM events")
        device, seq = TABLE_COLUMNS.index("device_id"), TABLE_COLUMNS.index("device_seq")
        by_key = {(row[device], row[seq]): tuple(row) for row in cursor.fetchall()}
    finally:
        raw.close()
        engine.dispose()
    batches = [
        [by_key[(frame.device_id, seq)] for seq in range(frame.from_seq, frame.to_seq + 1)]
        for frame in frames
    ]
    assert sum(map(len, batches)) == len(by_key)
    return batches


def raw_inserts(url: str, batches: Sequence[Sequence[tuple[Any, ...]]]) -> float:
    """Seconds to insert the batches with ON CONFLICT DO NOTHING, a transaction each."""
    engine = db.make_engine(url)
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    sql = (
        f"INSERT INTO events ({','.join(TABLE_COLUMNS)}) "
        f"VALUES ({','.join([mark] * len(TABLE_COLUMNS))}) "
        "ON CONFLICT (device_id, device_seq) DO NOTHING"
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for batch in batches:
            cursor.executemany(sql, batch)
            raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()
        engine.dispose()


def count_events(url: str) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return len(conn.execute(select(Event.id)).all())
    finally:
        engine.dispose()


def bench_ingest(backend: str, scratch: ScratchDatabases, world: World, folder: Path) -> None:
    """Time per event through the sync endpoint against raw inserts, on fresh copies."""
    first = scratch.copy("template", "ingest")
    post_frames(first, folder, world.frames)
    batches = stored_rows(first, world.frames)
    events = sum(map(len, batches))

    def through_sync() -> float:
        url = scratch.copy("template", "ingest")
        elapsed = post_frames(url, folder, world.frames)
        assert count_events(url) == events
        return elapsed / events

    def raw() -> float:
        url = scratch.copy("template", "ingest")
        elapsed = raw_inserts(url, batches)
        assert count_events(url) == events
        return elapsed / events

    baseline, value = best_of_interleaved(raw, through_sync, ROUNDS)
    report(
        f"api.ingest_via_sync_endpoint_{backend}_{events}_events",
        value,
        "s/event",
        baseline,
        TARGET_TIME_RATIO,
    )


# /events -----------------------------------------------------------------------------------


def history_rows(world: World) -> Iterator[tuple[object, ...]]:
    """EVENTS attempts over HISTORY_DAYS: half at the shared doors, half at residences.

    At a residence door most entries are its residents' own (private to the door, V1).
    """
    rng = random.Random(3)
    shared = [door for door in world.doors if door.kind != DoorKind.RESIDENCE]
    homes = [door for door in world.doors if door.kind == DoorKind.RESIDENCE and door.residents]
    seqs = dict.fromkeys((door.device_id for door in world.doors), 0)
    start = NOW - timedelta(days=HISTORY_DAYS)
    step = HISTORY_DAYS * 86400 / max(EVENTS, 1)
    credentials = (
        CredentialType.MOBILE_KEY,
        CredentialType.PERSONAL_DOORCODE,
        CredentialType.KEYCARD,
    )
    for n in range(EVENTS):
        at = start + timedelta(seconds=n * step)
        door = rng.choice(shared) if rng.random() < 0.5 else rng.choice(homes)
        roll = rng.random()
        subject: str | None
        reason, by_resident = Reason.GRANTED, False
        if roll < 0.08:
            subject, reason = None, Reason.UNKNOWN_CREDENTIAL
        elif door.kind != DoorKind.RESIDENCE:
            subject = rng.choice(world.visitors)
        elif roll < 0.9:
            subject, by_resident = rng.choice(door.residents), True
        else:
            subject = rng.choice(world.staff)
        seqs[door.device_id] += 1
        credential = rng.choice(credentials)
        yield (
            str(uuid.UUID(int=rng.getrandbits(128))),
            world.property_id,
            door.id,
            door.kind.value,
            door.device_id,
            seqs[door.device_id],
            "attempt",
            at,
            at,
            False,
            credential.value,
            f"cred-{subject[:8]}" if subject else None,
            subject,
            None,
            by_resident,
            reason.value,
        )


def raw_page(engine: Engine, viewer: Viewer, property_id: str) -> Callable[[], list[str]]:
    """The first page as the raw driver runs it, serialised with json.dumps; returns the ids.

    The SQL is what the service builds: the compiled visibility filter, the retention
    condition and the property, newest first, one more row than the page.
    """
    with sessions.session_factory(engine)() as session:
        shown = shown_events(session, NOW, property_id)
    statement = (
        visible_events(viewer)
        .where(shown, Event.property_id == property_id)
        .limit(PAGE + 1)
        .compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    )
    sql = str(statement)
    raw = engine.raw_connection()
    at = {name: index for index, name in enumerate(TABLE_COLUMNS)}

    def run() -> list[str]:
        cursor = raw.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        items = []
        for row in rows[:PAGE]:
            reason = row[at["reason"]]
            occurred = row[at["occurred_at"]]
            items.append(
                {
                    "id": row[at["id"]],
                    "occurred_at": occurred if isinstance(occurred, str) else occurred.isoformat(),
                    "door_id": row[at["door_id"]],
                    "door_kind": row[at["door_kind"]],
                    "kind": row[at["kind"]],
                    "credential_type": row[at["credential_type"]],
                    "outcome": None if reason is None else _outcome(reason),
                    "reason": reason,
                    "subject_id": row[at["subject_id"]],
                    "clock_uncertain": bool(row[at["clock_uncertain"]]),
                    "has_photo": row[at["photo_id"]] is not None,
                }
            )
        body = json.dumps({"items": items, "next_cursor": None}).encode()
        assert body
        return [item["id"] for item in items]

    return run


def _outcome(reason: str) -> str:
    return "granted" if reason == Reason.GRANTED.value else "denied"


def bench_events(backend: str, url: str, world: World, folder: Path) -> None:
    """Median latency of the first /events page against the raw query, interleaved."""
    engine = db.make_engine(url)
    try:
        client = AsgiClient(create_app(settings_for(url, folder), engine))
        path = f"/api/v1/properties/{world.property_id}/events"
        for who, token in (("manager", world.manager_token), ("resident", world.resident_token)):
            with sessions.session_factory(engine)() as session:
                principal = auth_service.principal_from_token(session, token, NOW)
                viewer = viewer_at(session, principal, world.property_id, NOW)
            raw = raw_page(engine, viewer, world.property_id)
            headers = {"Authorization": f"Bearer {token}"}

            async def api(headers: dict[str, str] = headers) -> list[str]:
                status, body = await client.request(
                    "GET", path, params={"limit": str(PAGE)}, headers=headers
                )
                assert status == 200, body
                return [item["id"] for item in json.loads(body)["items"]]

            async def timed(
                raw: Callable[[], list[str]] = raw,
                api: Callable[..., Awaitable[list[str]]] = api,
                who: str = who,
            ) -> dict[str, list[float]]:
                expected = raw()
                assert len(expected) == PAGE, f"{who} sees only {len(expected)} events"
                assert await api() == expected
                times: dict[str, list[float]] = {"raw": [], "api": []}
                for n in range(WARMUP + QUERIES):
                    started = time.perf_counter()
                    raw()
                    middle = time.perf_counter()
                    await api()
                    if n >= WARMUP:
                        times["raw"].append(middle - started)
                        times["api"].append(time.perf_counter() - middle)
                return times

            times = client.run(timed)
            report(
                f"api.events_first_page_{who}_{backend}_{EVENTS}_events",
                statistics.median(times["api"]),
                "s",
                statistics.median(times["raw"]),
                TARGET_TIME_RATIO,
            )
        client.close()
    finally:
        engine.dispose()


# Mobile keys -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(url: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """uvicorn serving bench_app on a free port of 127.0.0.1, once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "KEYTURN_DATABASE_URL": url,
        "KEYTURN_DATA_DIR": str(folder),
        "KEYTURN_MASTER_KEY": MASTER_KEY_TEXT,
        "KEYTURN_RETENTION_INTERVAL_S": "0",
        "KEYTURN_OUTBOUND_INTERVAL_S": "0",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api:bench_app",
        "--factory",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return server, port
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("the server did not answer in time")


def load(port: int, path: str, token: str) -> float:
    """Seconds per request with CLIENTS keep-alive client processes calling `path` at once."""
    start_at = time.time() + 1.0
    clients = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_load.py"), str(port), path, str(start_at), str(LOAD_S)],
            env={**os.environ, TOKEN_ENV: token},
            stdout=subprocess.PIPE,
        )
        for _ in range(CLIENTS)
    ]
    rate = 0.0
    for client in clients:
        out, _ = client.communicate(timeout=LOAD_S + 60)
        assert client.returncode == 0, f"a load client failed ({client.returncode})"
        result = json.loads(out)
        rate += result["requests"] / result["seconds"]
    return 1 / rate


def bench_mobile_keys(backend: str, url: str, world: World, folder: Path) -> None:
    """Request rate of mobile-key issuance against the bare route on the same server."""
    server, port = serve(url, folder)
    try:
        path = f"/api/v1/properties/{world.property_id}/phones/{world.registration_id}/mobile-keys"
        token = world.resident_token
        answer = httpx.post(
            f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["keys"]) == world.grants_per_phone, answer.text
        routes = (BARE_PATH, BARE_ASYNC_PATH, path)
        best = best_of_each({route: partial(load, port, route, token) for route in routes}, ROUNDS)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for suffix, bare in (("", BARE_PATH), ("_vs_async_bare", BARE_ASYNC_PATH)):
        report(
            f"api.mobile_keys_rate_uvicorn_{backend}{suffix}",
            best[path],
            "s/request",
            best[bare],
            TARGET_TIME_RATIO,
        )


def measure(backend: str) -> None:
    with scratch_databases(backend) as scratch, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        world = make_world(scratch.create("template"), folder / "locks")
        bench_ingest(backend, scratch, world, folder)
        events_url = scratch.copy("template", "events")
        load_events(events_url, history_rows(world))
        bench_events(backend, events_url, world, folder)
        bench_mobile_keys(backend, events_url, world, folder)


def main() -> None:
    for backend in BACKENDS:
        measure(backend)


if __name__ == "__main__":
    main()
