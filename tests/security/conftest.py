"""Fixtures of the security regressions, the third layer of the test worlds: a real `keyturn
serve` process on this test's database, and a `LiveWorld` to fill it. The API in process
(`app`, `client`, `db`, `site`) is the root conftest's.

`live_server` starts `python -m keyturn serve` on a free 127.0.0.1 port against this test's
migrated database (`engine`, so SQLite and PostgreSQL in turn) and always stops it;
`make_world` fills the database with a building whose doors have live locks, residents with
keys and codes, and a manager who signs in with a password and, optionally, TOTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

import live_server as live_server_process
from keyturn.cloud.db import utcnow
from keyturn.cloud.sessions import session_factory
from live_server import LiveServer
from worlds import LiveWorld, make_live_world


@pytest.fixture
def live_server(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start `keyturn serve` on this test's database; keyword arguments become KEYTURN_AUTH_*
    settings (e.g. max_failures_per_account=5). Every server started is stopped afterwards."""
    started: list[LiveServer] = []

    def start(**auth_settings: object) -> LiveServer:
        data_dir = tmp_path / f"server-{len(started)}"
        env = {f"KEYTURN_AUTH_{name.upper()}": str(value) for name, value in auth_settings.items()}
        server = live_server_process.start(db_url, data_dir, env)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            live_server_process.stop(server)


@pytest.fixture
def make_world(engine: Engine) -> Callable[..., LiveWorld]:
    """Build a `worlds.LiveWorld` as of now (the live server's clock is the host's) in this
    test's database; keyword arguments go to `make_live_world`."""

    def make(**options: int | bool) -> LiveWorld:
        with session_factory(engine)() as session:
            return make_live_world(session, now=utcnow(), **options)  # type: ignore[arg-type]

    return make
