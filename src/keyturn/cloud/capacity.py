"""At most as many requests run at once as the database pool has connections to give them.

A sync route holds its session's connection across worker-thread hops (dependency, then
route). With more requests than connections, the worker threads could all end up waiting
for a connection while every connection waits for a thread: nothing moves until the pool
times out. Requests over the budget therefore wait here, on the event loop, holding nothing.
"""

from __future__ import annotations

import asyncio

from anyio.to_thread import current_default_thread_limiter
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Receive, Scope, Send


def pool_capacity(engine: Engine) -> int | None:
    """How many connections the engine's pool hands out at most; None when unbounded."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    overflow: int = getattr(pool, "_max_overflow", -1)
    return None if overflow < 0 else pool.size() + overflow


class ConnectionBudget:
    """Admit at most `pool_capacity` requests (and fewer than the worker threads) at once."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.capacity = pool_capacity(engine)
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _semaphore(self, capacity: int) -> asyncio.Semaphore:
        """The semaphore of the running loop (a test client may run the app on several)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            threads = int(current_default_thread_limiter().total_tokens)
            self._slots = (loop, asyncio.Semaphore(max(1, min(capacity, threads - 1))))
        return self._slots[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.capacity is None:
            await self.app(scope, receive, send)
            return
        async with self._semaphore(self.capacity):
            await self.app(scope, receive, send)
