"""The server runs retention on a schedule: a thread started by the app's lifespan.

The thread waits one interval before each run, so a test client (or a restart) never sweeps
at once; KEYTURN_RETENTION_INTERVAL_S=0 turns the schedule off.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from retention_fixtures import NOW, NYC, days
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY_TEXT, Clock
from keyturn.cloud.app import create_app
from keyturn.cloud.jobs import PeriodicJob
from keyturn.cloud.models import Event
from keyturn.cloud.privacy.retention.service import run_retention
from keyturn.cloud.sessions import session_factory
from keyturn.settings import Settings
from worlds import add_aged_event, add_retention_site


def settings_for(db_url: str, tmp_path: Path, interval: float) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        master_key=MASTER_KEY_TEXT,
        retention_interval_s=interval,
    )


def test_the_scheduled_thread_applies_retention_as_of_the_app_clock(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    add_aged_event(session, site, 1, days(91))
    kept = add_aged_event(session, site, 2, days(1))
    session.commit()
    asked = threading.Event()

    def clock() -> datetime:
        asked.set()
        return NOW

    sessions = session_factory(engine)
    schedule = PeriodicJob(
        "retention", lambda now: run_retention(sessions, now, photo_dir=tmp_path), 0.001, clock
    )
    schedule.start()
    assert asked.wait(10)
    schedule.stop()

    assert schedule.runs >= 1
    session.expunge_all()
    assert list(session.scalars(select(Event.id))) == [kept.id]


def test_the_lifespan_starts_and_stops_the_schedule_without_sweeping_at_once(
    session: Session, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    add_aged_event(session, site, 1, days(91))
    session.commit()
    app = create_app(settings_for(db_url, tmp_path, 3600), engine)
    app.state.clock = Clock(NOW)

    with TestClient(app):
        schedule = app.state.retention_schedule
        assert schedule.alive

    assert not schedule.alive
    assert schedule.runs == 0
    assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_interval_zero_turns_the_schedule_off(engine: Engine, db_url: str, tmp_path: Path) -> None:
    app = create_app(settings_for(db_url, tmp_path, 0), engine)

    with TestClient(app):
        assert not hasattr(app.state, "retention_schedule")
