"""The locks writers take first, so that concurrent writers at a building queue up instead of
deadlocking, publishing the same access-list version twice, or giving up.

On PostgreSQL, row locks in this order: (1) the property's row, taken by every API request
that writes at a property before its route runs (`auth.deps`); (2) the access revision
counters a flush moves, in sorted order (`access.revisions.bump`); (3) the rows of the doors
whose list gets a new version, in id order, before the newest version is read
(`devices.service`). Anything else comes after. FOR NO KEY UPDATE leaves rows that merely
point at these free to be written.

SQLite has one writer at a time for the whole database, and its own wait for the write lock
polls: under a burst, an unlucky writer keeps missing its turn until its busy timeout gives
up. So (1) queues the process's writers in arrival order instead (`WriterQueue`) and the one
whose turn it is begins its transaction with BEGIN IMMEDIATE, taking the write lock before
the route reads anything; the turn passes on when that transaction ends. (2) and (3) are then
no-ops. A writer in another process (the CLI, a second server) still meets SQLite's own wait.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, SessionTransaction

from keyturn.cloud.db import SQLITE_BUSY_TIMEOUT_MS, TransientConflict
from keyturn.cloud.models import Door, Property

_TURN = "keyturn_sqlite_writer_turn"  # session.info: the queue whose turn this session holds


class WriterQueue:
    """A lock handed to its waiters first come, first served, with a bounded wait."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout_s: float) -> bool:
        """Take the turn, waiting at most `timeout_s`; False when it did not come."""
        with self._guard:
            if not self._held and not self._waiting:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout_s):
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        """Hand the turn to the longest waiter, or free it."""
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._held = False


_queues: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()
_queues_guard = threading.Lock()


def _queue_of(engine: Engine) -> WriterQueue:
    with _queues_guard:
        queue = _queues.get(engine)
        if queue is None:
            queue = _queues[engine] = WriterQueue()
        return queue


def _one_writer_at_a_time(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def lock_property(session: Session, property_id: str) -> None:
    """Writers at the property go one at a time until this transaction ends (see above)."""
    if _one_writer_at_a_time(session):
        _take_sqlite_turn(session)
        return
    session.execute(
        select(Property.id).where(Property.id == property_id).with_for_update(key_share=True)
    )


def lock_doors(session: Session, door_ids: Iterable[str]) -> None:
    """Hold the doors' rows, taken in id order, until the transaction ends."""
    wanted = sorted(set(door_ids))
    if not wanted or _one_writer_at_a_time(session):
        return
    session.execute(
        select(Door.id).where(Door.id.in_(wanted)).order_by(Door.id).with_for_update(key_share=True)
    )


def _take_sqlite_turn(session: Session) -> None:
    """Wait for this process's turn to write, then take SQLite's write lock at once.

    A connection already in a transaction has written (the driver begins one only for a
    write), so it holds SQLite's lock already: it must not wait behind a writer that may be
    waiting for it.
    """
    if _TURN in session.info:
        return
    connection = session.connection()
    if connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        return
    queue = _queue_of(connection.engine)
    if not queue.acquire(SQLITE_BUSY_TIMEOUT_MS / 1000):
        raise TransientConflict(
            "waiting for this process's turn to write", None, TimeoutError(), hide_parameters=True
        )
    session.info[_TURN] = queue
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        session.info.pop(_TURN).release()
        raise


def pass_the_turn(session: Session, transaction: SessionTransaction) -> None:
    """The session's outermost transaction ended (commit, rollback or close): next writer."""
    if transaction.parent is None:
        queue: Any = session.info.pop(_TURN, None)
        if queue is not None:
            queue.release()
