"""The retention job killed at random chunk boundaries converges to the uninterrupted state.

Hypothesis draws a building (events of mixed jurisdictions, ages and photos) and the
checkpoints at which successive runs die; a final run must leave exactly the rows and files
an uninterrupted run leaves on an identical copy, and a further run must change nothing.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from retention_fixtures import (
    NOW,
    NYC,
    Rows,
    copy_rows,
    days,
    empty_database,
    restore_rows,
    snapshot,
)
from sqlalchemy import Engine

from factories import record_photo
from keyturn.cloud.privacy.retention.service import PROPERTY_COUNTS, Checkpoint, run_retention
from keyturn.cloud.sessions import session_factory
from worlds import (
    add_aged_credentials,
    add_aged_event,
    add_aged_grant,
    add_aged_person,
    add_retention_site,
)

CHUNK = 2

Plan = list[tuple[int, int, bool]]
plans = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 1500), st.booleans()), min_size=1, max_size=25
)


class Killed(Exception):
    """Stands in for kill -9 at a checkpoint: nothing after it in the run happens."""


def build(engine: Engine, photo_dir: Path, plan: Plan) -> Rows:
    """The building of `plan`, and a copy of its rows to start again from (`restore`)."""
    empty_database(engine)
    photo_dir.mkdir()
    with session_factory(engine)() as session:
        sites = [
            add_retention_site(session, "nyc", NYC, stored_through=10),
            add_retention_site(session, "elm"),
            add_retention_site(session, "oak", "default", override=100),
        ]
        alice = add_aged_person(session, "alice")
        for site, ended in zip(sites, (95, 40, 120), strict=True):
            add_aged_grant(session, site, alice, ended=days(ended))
            add_aged_credentials(session, site, alice)
        for seq, (where, age, photo) in enumerate(plan, start=1):
            event = add_aged_event(session, sites[where], seq, days(age), subject=alice)
            if photo:
                record_photo(session, photo_dir=photo_dir, event=event)
        session.commit()
    shutil.copytree(photo_dir, photo_dir.with_name("photos-as-built"))
    return copy_rows(engine)


def restore(engine: Engine, photo_dir: Path, rows: Rows) -> None:
    """The database and the photo files exactly as `build` left them."""
    restore_rows(engine, rows)
    shutil.rmtree(photo_dir)
    shutil.copytree(photo_dir.with_name("photos-as-built"), photo_dir)


def run(engine: Engine, photo_dir: Path, kill_at: int | None = None) -> None:
    calls = 0

    def hook(_checkpoint: Checkpoint) -> None:
        nonlocal calls
        calls += 1
        if calls == kill_at:
            raise Killed

    run_retention(session_factory(engine), NOW, photo_dir=photo_dir, chunk_size=CHUNK, hook=hook)


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans, first=st.integers(1, 8), more=st.lists(st.integers(1, 40), max_size=2))
def test_retention_killed_at_random_points_converges_to_the_same_end_state(
    engine: Engine, tmp_path: Path, plan: Plan, first: int, more: list[int]
) -> None:
    # Every building has at least 8 checkpoints (expired grants and credentials), so the
    # first kill always lands; later ones may land in a run that has little left to do.
    kills = [first, *more]
    case = tmp_path / str(uuid.uuid4())  # hypothesis runs every example in one tmp_path
    case.mkdir()
    photo_dir = case / "photos"
    built = build(engine, photo_dir, plan)
    run(engine, photo_dir)
    expected = snapshot(engine, photo_dir)

    restore(engine, photo_dir, built)
    killed = 0
    for kill_at in kills:
        try:
            run(engine, photo_dir, kill_at)
        except Killed:
            killed += 1
    run(engine, photo_dir)

    assert snapshot(engine, photo_dir) == expected
    again = run_retention(session_factory(engine), NOW, photo_dir=photo_dir, chunk_size=CHUNK)
    assert all(again.total(count) == 0 for count in PROPERTY_COUNTS)
    assert killed >= 1
