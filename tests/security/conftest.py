"""Fixtures of the security regressions, the third layer of the test worlds: a real `keyturn
serve` process on this test's database, and a `LiveWorld` to fill it. The API in process
(`app`, `client`, `db`, `site`) is the root conftest's.

`live_server` starts `python -m keyturn serve` on a free 127.0.0.1 port against this test's
migrated database (`engine`, so SQLite and PostgreSQL in turn) and always stops it;
`make_world` fills the database with a building whose doors have live locks, residents with
keys and codes, and a manager who signs in with a password and, optionally, TOTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from factories import MASTER_KEY_TEXT
from keyturn.cloud.db import utcnow
from keyturn.cloud.sessions import session_factory
from worlds import LiveWorld, make_live_world

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass
class LiveServer:
    """A running `keyturn serve`: its base URL, its process and where its output goes."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_serving(server: LiveServer) -> None:
    """Poll the health route until it answers, the process dies, or the timeout passes."""
    deadline = STARTUP_TIMEOUT_S
    waited = 0.0
    step = 0.05
    with httpx.Client(base_url=server.url, timeout=1.0) as client:
        while waited < deadline:
            try:
                if client.get("/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:
                server.process.wait(timeout=step)
            except subprocess.TimeoutExpired:
                waited += step
                continue
            raise AssertionError(f"keyturn serve exited early:\n{server.output()}")
    raise AssertionError(f"keyturn serve did not answer in {deadline}s:\n{server.output()}")


def _stop(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture
def live_server(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start `keyturn serve` on this test's database; keyword arguments become KEYTURN_AUTH_*
    settings (e.g. max_failures_per_account=5). Every server started is stopped afterwards."""
    started: list[LiveServer] = []

    def start(**auth_settings: object) -> LiveServer:
        port = _free_port()
        data_dir = tmp_path / f"server-{len(started)}"
        data_dir.mkdir()
        env = {
            **os.environ,
            "KEYTURN_DATA_DIR": str(data_dir),
            "KEYTURN_DATABASE_URL": db_url,
            "KEYTURN_MASTER_KEY": MASTER_KEY_TEXT,
            "KEYTURN_RETENTION_INTERVAL_S": "0",
            "KEYTURN_OUTBOUND_INTERVAL_S": "0",
            "KEYTURN_RESIDENCY_INTERVAL_S": "0",
            **{f"KEYTURN_AUTH_{name.upper()}": str(value) for name, value in auth_settings.items()},
        }
        log = data_dir / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "keyturn",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        server = LiveServer(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        _wait_until_serving(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            _stop(server)


@pytest.fixture
def make_world(engine: Engine) -> Callable[..., LiveWorld]:
    """Build a `worlds.LiveWorld` as of now (the live server's clock is the host's) in this
    test's database; keyword arguments go to `make_live_world`."""

    def make(**options: int | bool) -> LiveWorld:
        with session_factory(engine)() as session:
            return make_live_world(session, now=utcnow(), **options)  # type: ignore[arg-type]

    return make
