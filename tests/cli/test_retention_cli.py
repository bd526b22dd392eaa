"""`keyturn retention run|show` on a SQLite data dir, in process, with the clock passed in.

A dry run reports what a real run then does, a real run changes the database, and `show`
lists each property's policy; the JSON forms are checked field by field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from factories import make_door, make_property, record_event
from keyturn.cli import context
from keyturn.cli.main import cli
from keyturn.cloud import db, sessions
from keyturn.cloud.models import Event
from keyturn.rules.types import CredentialType

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_ARG = "2026-06-01T12:00:00"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    db.upgrade(f"sqlite:///{tmp_path / 'keyturn.db'}")
    return tmp_path


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Callable[..., str]:
    """Run `keyturn ARGS` in this process on the data dir; return stdout, fail on an error."""
    for name in list(os.environ):
        if name.startswith("KEYTURN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYTURN_DATA_DIR", str(data_dir))
    monkeypatch.setattr(context.console, "width", 200)
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def building(data_dir: Path, jurisdiction: str, ages: list[int]) -> None:
    """One property with one door and an attempt `age` days before NOW per entry of AGES."""
    engine = db.make_engine(f"sqlite:///{data_dir / 'keyturn.db'}")
    try:
        with sessions.session_factory(engine)() as session:
            prop = make_property(
                session,
                portfolio_name="Holdings",
                name=f"{jurisdiction} house",
                jurisdiction=jurisdiction,
            )
            door = make_door(session, property_id=prop.id, name="entrance")
            for seq, age in enumerate(ages, start=1):
                record_event(
                    session,
                    door=door,
                    occurred_at=NOW - timedelta(days=age),
                    credential_type=CredentialType.KEYCARD,
                    device_seq=seq,
                )
            session.commit()
    finally:
        engine.dispose()


def event_count(data_dir: Path) -> int:
    engine = db.make_engine(f"sqlite:///{data_dir / 'keyturn.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Event.__table__)).scalar_one())
    finally:
        engine.dispose()


def test_dry_run_then_run_report_per_property_and_jurisdiction(
    data_dir: Path, run: Callable[..., str]
) -> None:
    building(data_dir, "US-NY-NYC", [10, 100, 200])
    building(data_dir, "default", [10, 800])

    planned = json.loads(run("retention", "run", "--dry-run", "--json", "--now", NOW_ARG))
    assert event_count(data_dir) == 5
    done = json.loads(run("retention", "run", "--json", "--now", NOW_ARG))

    assert planned["dry_run"] is True
    assert done["dry_run"] is False
    by_name = {item["jurisdiction"]: item for item in done["properties"]}
    assert by_name["US-NY-NYC"]["events_deleted"] == 2
    assert by_name["default"]["events_anonymised"] == 1
    assert planned["properties"] == done["properties"]
    assert event_count(data_dir) == 3


def test_the_table_names_each_property_and_what_changed(
    data_dir: Path, run: Callable[..., str]
) -> None:
    building(data_dir, "US-NY-NYC", [100])

    out = run("retention", "run", "--now", NOW_ARG)

    assert "US-NY-NYC house" in out
    assert "changed" in out
    assert "events deleted" in out
    assert event_count(data_dir) == 0


def test_show_lists_policy_limit_and_next_deadline(data_dir: Path, run: Callable[..., str]) -> None:
    building(data_dir, "US-NY-NYC", [30])
    building(data_dir, "default", [])

    shown = json.loads(run("retention", "show", "--json", "--now", NOW_ARG))
    table = run("retention", "show", "--now", NOW_ARG)

    by_name = {item["name"]: item for item in shown}
    nyc = by_name["US-NY-NYC house"]
    assert (nyc["retention_days"], nyc["limit_days"]) == (90, 90)
    assert nyc["next_anonymisation_at"].startswith("2026-07-31")
    assert by_name["default house"]["retention_days"] == 730
    assert by_name["default house"]["next_anonymisation_at"] is None
    assert "US-NY-NYC house" in table
    assert "2026-07-31" in table
