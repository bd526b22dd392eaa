"""`keyturn retention run|show|set` on a SQLite data dir, with the clock passed in (--now).

A dry run reports what a real run then does, a real run changes the database, `show` lists
each property's policy and `set` its override; the JSON forms are checked field by field.
Refusals run as real processes, for their one line and exit status 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from factories import make_door, make_property, record_event
from keyturn.cloud import db, sessions
from keyturn.cloud.models import Event
from keyturn.rules.types import CredentialType

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_ARG = "2026-06-01T12:00:00Z"


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


def policy_of(run: Callable[..., str], name: str) -> dict[str, object]:
    shown = json.loads(run("retention", "show", "--json", "--now", NOW_ARG))
    found: dict[str, object] = next(item for item in shown if item["name"] == name)
    return found


def test_set_shortens_then_clear_resets_and_show_reports_it(
    data_dir: Path, run: Callable[..., str]
) -> None:
    building(data_dir, "US-NY-NYC", [])

    said = run("retention", "set", "--property", "US-NY-NYC house", "--days", "30")
    shortened = policy_of(run, "US-NY-NYC house")
    run("retention", "set", "--property", "US-NY-NYC house", "--clear")
    reset = policy_of(run, "US-NY-NYC house")

    assert "kept 30 days" in said
    assert "allows 90" in said
    assert (shortened["retention_days"], shortened["override_days"]) == (30, 30)
    assert (reset["retention_days"], reset["override_days"]) == (90, None)


def test_rule_r2_set_longer_than_the_jurisdiction_allows_is_one_line_and_changes_nothing(
    data_dir: Path, run: Callable[..., str], fails: Callable[..., str]
) -> None:
    building(data_dir, "US-NY-NYC", [])

    line = fails("retention", "set", "--property", "US-NY-NYC house", "--days", "120")

    assert "at most 90 days" in line
    assert policy_of(run, "US-NY-NYC house")["override_days"] is None


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "either --days N or --clear"),
        (("--days", "30", "--clear"), "either --days N or --clear"),
        (("--days", "0"), "at least one day"),
    ],
)
def test_set_refuses_a_missing_or_contradictory_choice(
    data_dir: Path, fails: Callable[..., str], args: tuple[str, ...], needle: str
) -> None:
    building(data_dir, "US-NY-NYC", [])

    assert needle in fails("retention", "set", "--property", "US-NY-NYC house", *args)


def test_set_names_an_unknown_property(data_dir: Path, fails: Callable[..., str]) -> None:
    assert "no property named 'Nowhere'" in fails(
        "retention", "set", "--property", "Nowhere", "--days", "30"
    )


def test_now_is_documented_in_the_help(run: Callable[..., str]) -> None:
    for command in ("run", "show"):
        shown = " ".join(run("retention", command, "--help").replace("│", " ").split())
        assert "--now" in shown
        assert "dry runs and drills" in shown


@pytest.mark.parametrize(
    "text", ["2027-03-01T00:00:00", "2027-03-01", "next tuesday", "2027-13-01T00:00:00Z"]
)
def test_a_naive_or_malformed_now_is_one_line(
    data_dir: Path, fails: Callable[..., str], text: str
) -> None:
    line = fails("retention", "run", "--dry-run", "--now", text)

    assert "--now" in line
    assert "2027-03-01T00:00:00Z" in line


def test_a_dry_run_as_of_a_later_day_shows_what_that_day_removes(
    data_dir: Path, run: Callable[..., str]
) -> None:
    building(data_dir, "US-NY-NYC", [10, 60])
    later = (NOW + timedelta(days=40)).isoformat()

    today = json.loads(run("retention", "run", "--dry-run", "--json", "--now", NOW_ARG))
    then = json.loads(run("retention", "run", "--dry-run", "--json", "--now", later))

    assert today["properties"][0]["events_deleted"] == 0
    assert then["properties"][0]["events_deleted"] == 1
    assert then["now"] == later
    assert event_count(data_dir) == 2
