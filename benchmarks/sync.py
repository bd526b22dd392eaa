"""The lock's sync-side costs: a flushed journal append and a 10,000-entry list apply.

Each is measured against raw SQLite in the same run.

Both baselines use the same database settings (WAL, synchronous=FULL) and the same rows:
a single-row insert committed per entry of the journal's encrypted row size, and one
executemany of the access list's credential rows into the same table, committed.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import best_of_interleaved, report
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.store import SCHEMA, connect
from keyturn.protocol.messages import CredentialSpec, EventRecord
from keyturn.rules.types import CredentialType, Reason
from unlock import NOW, BenchDoor

APPEND_TARGET = 1.5
APPLY_TARGET = 2.0
APPENDS_PER_ROUND = 100
APPEND_ROUNDS = 7
APPLY_ROUNDS = 5


def _draft(n: int) -> EventRecord:
    return EventRecord(
        seq=0,
        occurred_at=1_790_000_000_000 + n,
        clock_uncertain=False,
        kind="attempt",
        chain=b"",
        credential_type=CredentialType.PERSONAL_DOORCODE,
        credential_id=f"cred-{n % 10_000:05d}",
        subject=f"person-{n % 10_000:05d}",
        grant_id=f"grant-{n % 10_000:05d}",
        by_resident=True,
        reason=Reason.GRANTED,
        photo_id="9f0c2b8e5d4a4e3f8a1b2c3d4e5f6a7b",
    )


def _raw_journal(folder: Path) -> sqlite3.Connection:
    conn = connect(folder / "raw-journal.db")
    conn.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    return conn


def bench_append(folder: Path) -> None:
    door = BenchDoor(folder / "append-lock")
    lock = Lock.open(door.root, ManualClock(NOW))
    lock.journal.append(_draft(0))
    (row_size,) = lock.store.conn.execute("SELECT length(body) FROM journal").fetchone()
    raw = _raw_journal(folder)
    row = os.urandom(row_size)
    counter = {"raw": 0, "lock": 0}

    def raw_round() -> float:
        start = time.perf_counter()
        for _ in range(APPENDS_PER_ROUND):
            counter["raw"] += 1
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT INTO journal (seq, body) VALUES (?, ?)", (counter["raw"], row))
            raw.execute("COMMIT")
        return (time.perf_counter() - start) / APPENDS_PER_ROUND

    def lock_round() -> float:
        start = time.perf_counter()
        for _ in range(APPENDS_PER_ROUND):
            counter["lock"] += 1
            lock.journal.append(_draft(counter["lock"]))
        return (time.perf_counter() - start) / APPENDS_PER_ROUND

    base, value = best_of_interleaved(raw_round, lock_round, APPEND_ROUNDS)
    assert lock.verify_journal() == lock.journal.last_seq
    report("sync.journal_append_flushed", value, "s/append", base, APPEND_TARGET)
    lock.close()
    raw.close()


def bench_apply(folder: Path) -> None:
    door = BenchDoor(folder / "template")
    frame = door.frame(1)
    rows = [(spec.credential_id, spec.lookup, _encode(spec)) for spec in door.specs()]
    rounds = {"n": 0}

    def raw_round() -> float:
        rounds["n"] += 1
        conn = connect(folder / f"raw-apply-{rounds['n']}.db")
        conn.executescript(SCHEMA)
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO credentials (credential_id, lookup, spec) VALUES (?, ?, ?)", rows
        )
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed

    def lock_round() -> float:
        rounds["n"] += 1
        fresh = BenchDoor(folder / f"apply-{rounds['n']}", like=door)
        lock = Lock.open(fresh.root, ManualClock(NOW))
        start = time.perf_counter()
        result = lock.apply_downlink(frame)
        elapsed = time.perf_counter() - start
        assert result.access_list is not None
        assert result.access_list.applied
        lock.close()
        return elapsed

    base, value = best_of_interleaved(raw_round, lock_round, APPLY_ROUNDS)
    report("sync.apply_access_list_10k", value, "s/list", base, APPLY_TARGET)


def _encode(spec: CredentialSpec) -> bytes:
    return msgspec.msgpack.encode(spec)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_append(Path(tmp))
        bench_apply(Path(tmp))


if __name__ == "__main__":
    main()
