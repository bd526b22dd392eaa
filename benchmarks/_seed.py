"""Shared seeding for benchmarks: scratch databases on SQLite and PostgreSQL, and bulk-loaded
events that bypass the service, so a million rows take seconds rather than an hour.

`scratch_databases` hands out named databases (files in a temp dir, or databases on the
PostgreSQL server) that can be copied from a template and are all removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from keyturn.cloud import db

EVENTS = int(os.environ.get("KEYTURN_BENCH_EVENTS", "1000000"))
PG_ADMIN_URL = os.environ.get(
    "KEYTURN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# The columns every seeded event row carries, in the order of the tuples given to load_events.
EVENT_COLUMNS = (
    "id",
    "property_id",
    "door_id",
    "door_kind",
    "device_id",
    "device_seq",
    "kind",
    "occurred_at",
    "received_at",
    "clock_uncertain",
    "credential_type",
    "credential_id",
    "subject_id",
    "granted_by",
    "by_resident",
    "reason",
)
# How SQLAlchemy stores our UTC datetimes on SQLite (naive text), so the service reads them back.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class ScratchDatabases:
    """Named databases of one backend; `copy` clones one from another, like a fresh restore."""

    def __init__(self, backend: str, folder: Path, admin: Engine | None) -> None:
        self.backend = backend
        self._folder = folder
        self._admin = admin
        self._tag = uuid.uuid4().hex[:8]
        self._made: list[str] = []

    def url(self, name: str) -> str:
        if self._admin is None:
            return f"sqlite:///{self._folder / name}.db"
        return self._admin.url.set(database=self._pg_name(name)).render_as_string(
            hide_password=False
        )

    def create(self, name: str) -> str:
        """An empty database called `name` (replacing one of that name), and its URL."""
        self.drop(name)
        if self._admin is not None:
            self._run(f'CREATE DATABASE "{self._pg_name(name)}"')
        self._made.append(name)
        return self.url(name)

    def copy(self, source: str, target: str) -> str:
        """`target` as an exact copy of `source`, whose engines must all be disposed."""
        self.drop(target)
        if self._admin is None:
            shutil.copyfile(self._folder / f"{source}.db", self._folder / f"{target}.db")
        else:
            self._run(
                f'CREATE DATABASE "{self._pg_name(target)}" TEMPLATE "{self._pg_name(source)}"'
            )
        self._made.append(target)
        return self.url(target)

    def drop(self, name: str) -> None:
        if self._admin is None:
            for suffix in (".db", ".db-wal", ".db-shm"):
                (self._folder / f"{name}{suffix}").unlink(missing_ok=True)
        else:
            self._run(f'DROP DATABASE IF EXISTS "{self._pg_name(name)}" WITH (FORCE)')

    def drop_all(self) -> None:
        for name in dict.fromkeys(self._made):
            self.drop(name)

    def _pg_name(self, name: str) -> str:
        return f"keyturn_bench_{self._tag}_{name}"

    def _run(self, sql: str) -> None:
        assert self._admin is not None
        with self._admin.connect() as conn:
            conn.execute(text(sql))


@contextmanager
def scratch_databases(backend: str) -> Iterator[ScratchDatabases]:
    """Scratch databases on `backend` ("sqlite" or "postgresql"), all dropped at the end."""
    admin = None
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with tempfile.TemporaryDirectory() as folder:
        scratch = ScratchDatabases(backend, Path(folder), admin)
        try:
            yield scratch
        finally:
            scratch.drop_all()
            if admin is not None:
                admin.dispose()


def load_events(url: str, rows: Iterable[tuple[object, ...]]) -> None:
    """Append rows of EVENT_COLUMNS to `events` in one bulk load, then refresh the statistics.

    SQLite gets one executemany in one transaction, PostgreSQL a COPY; both go through the
    table's constraints and indexes like any insert.
    """
    parsed = make_url(url)
    columns = ",".join(EVENT_COLUMNS)
    if parsed.get_backend_name() == "sqlite":
        at = EVENT_COLUMNS.index("occurred_at")
        conn = sqlite3.connect(str(parsed.database))
        marks = ",".join("?" * len(EVENT_COLUMNS))
        stored = (
            (
                *row[:at],
                _sqlite_time(row[at]),
                _sqlite_time(row[at + 1]),
                *row[at + 2 :],
            )
            for row in rows
        )
        with conn:
            conn.executemany(f"INSERT INTO events ({columns}) VALUES ({marks})", stored)
        conn.execute("ANALYZE")
        conn.close()
        return
    engine = db.make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
        autocommit.execute(text("VACUUM ANALYZE events"))
    engine.dispose()


def _sqlite_time(value: object) -> str:
    assert isinstance(value, datetime)
    return value.strftime(SQLITE_TIME_FORMAT)
