"""Requests that lost to a concurrent transaction run again, a bounded number of times.

A TransientConflict (see `db.make_engine`) leaves nothing behind: the request's session is
closed, so its transaction rolled back, before the error reaches this middleware. The request
is then replayed from its recorded body; after the last attempt the caller gets a 503 problem
with Retry-After that says nothing was changed, never a 500 or a misleading 409. A database
with no free connection is answered the same way, without a retry.
"""

from __future__ import annotations

import secrets

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyturn.cloud.db import TransientConflict
from keyturn.cloud.problems import problem

# A server's own writers at one building take turns (properties.write_locks), so what is left
# is a deadlock PostgreSQL broke, a counter another writer took, or a writer in another
# process; six attempts with growing waits outlast a burst of those.
ATTEMPTS = 6
# Before attempt n the request waits a random part of n times this, so racers spread out.
BACKOFF_S = 0.02
RETRY_AFTER_S = 1
_jitter = secrets.SystemRandom()


def busy(reason: str) -> JSONResponse:
    """The answer to a request that changed nothing because the database was busy."""
    return problem(
        503,
        "busy",
        "The database is busy; nothing was changed",
        f"{reason}; send the request again after Retry-After seconds",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class _Recording:
    """The request's messages as they arrive, so that a later attempt reads them again."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._messages: list[Message] = []

    def reader(self) -> Receive:
        """A `receive` that starts from the first message."""
        position = 0

        async def receive() -> Message:
            nonlocal position
            if position == len(self._messages):
                self._messages.append(await self._receive())
            position += 1
            return self._messages[position - 1]

        return receive


class RetryOnConflict:
    """Run the request again while it fails with TransientConflict before answering."""

    def __init__(self, app: ASGIApp, attempts: int = ATTEMPTS) -> None:
        self.app = app
        self.attempts = attempts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _Recording(receive)
        for attempt in range(1, self.attempts + 1):
            if await self._answered(scope, request.reader(), send):
                return
            if attempt < self.attempts:
                await anyio.sleep(_jitter.uniform(0, BACKOFF_S * attempt))
        response = busy(f"the request met concurrent changes {self.attempts} times")
        await response(scope, receive, send)

    async def _answered(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Run one attempt; False when it lost to a concurrent transaction before answering."""
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        # Each attempt starts from the request as it arrived, not from what the last one left.
        fresh = {**scope, "state": dict(scope.get("state", {}))}
        try:
            await self.app(fresh, receive, watched)
        except TransientConflict:
            if started:
                raise
            return False
        return True


async def _no_connection(_request: Request, _exc: PoolTimeout) -> JSONResponse:
    return busy("no database connection became free in time")


async def _run_again(_request: Request, exc: TransientConflict) -> JSONResponse:
    """Let the conflict leave the app's handlers for RetryOnConflict, which wraps them.

    TransientConflict is an OperationalError, and handlers are looked up along the class's
    ancestry: without a handler of its own, "database unavailable" would answer it at once.
    """
    raise exc


def install_retries(app: FastAPI) -> None:
    """Replay requests that lost to concurrent writers; answer 503 when the pool is exhausted."""
    app.add_middleware(RetryOnConflict)
    app.add_exception_handler(TransientConflict, _run_again)  # type: ignore[arg-type]
    app.add_exception_handler(PoolTimeout, _no_connection)  # type: ignore[arg-type]
