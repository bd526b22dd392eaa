"""Writers at a SQLite building take turns in arrival order, and the one whose turn it is holds
SQLite's write lock from the start of its transaction (properties.write_locks)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from factories import make_property
from keyturn.cloud.properties import write_locks
from keyturn.cloud.properties.write_locks import WriterQueue, lock_property
from keyturn.cloud.sessions import session_factory

WAIT_S = 10.0
# PostgreSQL locks the property's row instead, which the race tests cover.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _until(condition: Callable[[], bool]) -> None:
    """Wait for `condition`, checking it every millisecond, for at most WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    tick = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        tick.wait(0.001)


def _waiters(queue: WriterQueue) -> int:
    return len(queue._waiting)  # the line as it forms


def test_turns_are_handed_out_in_arrival_order() -> None:
    queue = WriterQueue()
    assert queue.acquire(WAIT_S)
    served: list[int] = []

    def writer(n: int) -> None:
        if queue.acquire(WAIT_S):
            served.append(n)

    threads = []
    for n in range(4):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        _until(lambda: _waiters(queue) == len(threads))  # in line before the next one starts
    for n in range(4):
        queue.release()
        _until(lambda: len(served) == n + 1)
    queue.release()
    for thread in threads:
        thread.join(WAIT_S)
    assert served == [0, 1, 2, 3]
    assert queue.acquire(0)  # the last release freed it


def test_a_wait_that_runs_out_leaves_the_line() -> None:
    queue = WriterQueue()
    assert queue.acquire(WAIT_S)
    assert not queue.acquire(0.01)
    assert _waiters(queue) == 0
    queue.release()
    assert queue.acquire(0)


@SQLITE_ONLY
def test_the_writer_whose_turn_it_is_holds_sqlite_write_lock_before_writing(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as seeding:
        property_id = make_property(seeding).id
        seeding.commit()
    path = engine.url.database
    assert path is not None
    other = sqlite3.connect(path, timeout=0)
    try:
        with sessions() as writer:
            lock_property(writer, property_id)
            # Nothing written yet, yet another writer already finds the database locked.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("UPDATE alembic_version SET version_num = version_num")
            other.rollback()
            writer.commit()
        other.execute("UPDATE alembic_version SET version_num = version_num")
        other.rollback()
        with sessions() as next_writer:
            # The turn passed on at commit: taking it again does not wait.
            lock_property(next_writer, property_id)
            next_writer.rollback()
    finally:
        other.close()


@SQLITE_ONLY
def test_a_session_that_already_wrote_does_not_wait_behind_the_line(engine: Engine) -> None:
    """It holds SQLite's lock already; waiting for a turn could wait for itself."""
    sessions = session_factory(engine)
    with sessions() as seeding:
        property_id = make_property(seeding).id
        seeding.commit()
    line = write_locks._queue_of(engine)  # another writer holds the turn
    assert line.acquire(WAIT_S)
    try:
        with sessions() as writer:
            writer.execute(text("UPDATE alembic_version SET version_num = version_num"))
            lock_property(writer, property_id)  # returns at once instead of timing out
            writer.rollback()
    finally:
        line.release()
