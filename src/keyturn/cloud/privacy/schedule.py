"""Runs the retention job inside the server, every KEYTURN_RETENTION_INTERVAL_S seconds.

A daemon thread waits one interval before each run, so starting the server (or a test
client) never sweeps at once; a failed run is logged and the next one tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud.db import session_factory
from keyturn.cloud.history.views import PHOTO_DIR
from keyturn.cloud.privacy.retention import RetentionReport, run_retention

log = logging.getLogger(__name__)


class RetentionSchedule:
    """A background thread that applies retention every `interval_s` until stopped."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        photo_dir: Path,
        interval_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.factory = factory
        self.photo_dir = photo_dir
        self.interval_s = interval_s
        self.clock = clock
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="keyturn-retention", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run_once(self) -> RetentionReport:
        report = run_retention(self.factory, self.clock(), photo_dir=self.photo_dir)
        self.runs += 1
        log.info("retention: %s", report.as_json())
        return report

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:
                log.exception("retention run failed; trying again in %s s", self.interval_s)


@asynccontextmanager
async def retention_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: the retention schedule runs while the server does (0 turns it off)."""
    settings = app.state.settings
    interval = settings.retention_interval_s
    if not interval:
        yield
        return
    schedule = RetentionSchedule(
        session_factory(app.state.engine),
        settings.data_dir / PHOTO_DIR,
        interval,
        clock=lambda: app.state.clock(),
    )
    app.state.retention_schedule = schedule
    schedule.start()
    try:
        yield
    finally:
        schedule.stop()
