"""The lock's SQLite store: its state, applied access list, journal rows and photo keys.

WAL with synchronous=FULL, so a committed transaction survives a power cut; every change
that must happen together (an access list, a journal entry with the state it moves) runs in
one transaction through `Store.transaction()`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id TEXT PRIMARY KEY,
    lookup BLOB NOT NULL,
    spec BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_lookup ON credentials (lookup);
CREATE TABLE IF NOT EXISTS one_time_uses (
    credential_id TEXT PRIMARY KEY,
    first_used_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS photos (
    photo_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    sealed_key BLOB NOT NULL,
    content_type TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_seq ON photos (seq);
"""

_encoder = msgspec.msgpack.Encoder()


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class Store:
    """One lock's database; not shared between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        self._depth = 0
        self._on_rollback: list[Callable[[], None]] = []
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit; nested calls join the outer transaction, which alone commits."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            hooks = self._on_rollback
            for hook in hooks:
                hook()
            raise
        finally:
            self._depth = 0
            self._on_rollback = []

    def on_rollback(self, hook: Callable[[], None]) -> None:
        """Run `hook` if the current transaction rolls back (to resync in-memory copies)."""
        self._on_rollback.append(hook)

    def get(self, key: str, kind: type[T], default: T) -> T:
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        return msgspec.msgpack.decode(row[0], type=kind)

    def put(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, _encoder.encode(value)),
        )
