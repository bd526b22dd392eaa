"""Periodic background work inside the server: retention sweeps, outbound delivery, due
move-outs, the PMS sync and the data-request deadline notices.

Each job is a daemon thread that waits one interval before every run, so starting the
server (or a test client) never runs anything at once; a failed run is logged and the
next one tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from keyturn.cloud.mail.sender import deliver_pending
from keyturn.cloud.mail.suppression import use_suppression_key
from keyturn.cloud.people.pms.service import sync_sources
from keyturn.cloud.people.residency.service import end_due_residencies
from keyturn.cloud.privacy.retention.service import run_retention
from keyturn.cloud.privacy.reviewer_notices import run_deadline_check
from keyturn.cloud.sessions import session_factory
from keyturn.cloud.webhooks.delivery import deliver_webhooks
from keyturn.cloud.webhooks.egress import webhook_client

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 10.0


class PeriodicJob:
    """Calls `work(now)` every `interval_s` seconds on its own thread until stopped."""

    def __init__(
        self,
        name: str,
        work: Callable[[datetime], Any],
        interval_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.name = name
        self.work = work
        self.interval_s = interval_s
        self.clock = clock
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"keyturn-{name}", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run_once(self) -> Any:
        outcome = self.work(self.clock())
        self.runs += 1
        log.info("%s: %s", self.name, outcome)
        return outcome

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:
                log.exception("%s run failed; trying again in %s s", self.name, self.interval_s)


@asynccontextmanager
async def background_jobs(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: each job with a non-zero interval runs while the server does."""
    settings = app.state.settings
    sessions = session_factory(app.state.engine)
    master_key = settings.master_key_bytes()
    use_suppression_key(sessions, master_key)
    photo_dir = settings.photo_dir
    client = webhook_client(
        allow_private=settings.webhook_private_targets, timeout_s=WEBHOOK_TIMEOUT_S
    )

    def retention(now: datetime) -> Any:
        return run_retention(sessions, now, photo_dir=photo_dir).as_json()

    def outbound(now: datetime) -> Any:
        mail = deliver_pending(sessions, settings, now)
        hooks = deliver_webhooks(sessions, master_key, now, client)
        return {"mail": mail.summary(), "webhooks": hooks}

    def residencies(now: datetime) -> Any:
        with sessions() as session:
            ended = end_due_residencies(session=session, master_key=master_key, now=now)
            session.commit()
        return {"moved_out": [report.membership_id for report in ended]}

    pms_sources = settings.pms_source_map

    def pms(now: datetime) -> Any:
        return sync_sources(sessions, master_key, pms_sources, now, welcome=app.state.auth_config)

    def dsar_notices(now: datetime) -> Any:
        return run_deadline_check(sessions, now).as_json()

    jobs = {
        "retention": (retention, settings.retention_interval_s),
        "outbound": (outbound, settings.outbound_interval_s),
        "residency": (residencies, settings.residency_interval_s),
        "pms": (pms, settings.pms_sync_interval_s if pms_sources else 0),
        "dsar_notices": (dsar_notices, settings.dsar_notice_interval_s),
    }
    started = []
    for name, (work, interval) in jobs.items():
        if interval:
            job = PeriodicJob(name, work, interval, clock=lambda: app.state.clock())
            setattr(app.state, f"{name}_schedule", job)
            job.start()
            started.append(job)
    try:
        yield
    finally:
        for job in started:
            job.stop()
        client.close()
