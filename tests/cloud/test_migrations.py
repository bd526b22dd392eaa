"""Tests for the bundled Alembic migrations on SQLite and PostgreSQL.

A migrated database must match the models exactly (no autogenerate drift), and the
initial revision must go down to nothing and back up again.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from keyturn.cloud import db
from keyturn.cloud.models import metadata


def _table_names(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(db_url: str) -> None:
    assert db.current_revision(db_url) is None

    db.upgrade(db_url)
    assert db.current_revision(db_url) == db.head_revision()
    assert _table_names(db_url) == set(metadata.tables) | {"alembic_version"}

    db.downgrade(db_url, "base")
    assert db.current_revision(db_url) is None
    assert _table_names(db_url) <= {"alembic_version"}

    db.upgrade(db_url, "head")
    assert db.current_revision(db_url) == db.head_revision()
    assert db.schema_differences(db_url) == []


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    db.upgrade(db_url)
    assert db.schema_differences(db_url) == []


def test_drift_check_notices_a_missing_index(db_url: str) -> None:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_events_door_id_occurred_at"))
    engine.dispose()

    differences = db.schema_differences(db_url)

    assert [(kind, index.name) for kind, index in differences] == [
        ("add_index", "ix_events_door_id_occurred_at")
    ]


def test_migrations_ship_inside_the_package() -> None:
    assert (db.MIGRATIONS_DIR / "env.py").is_file()
    assert (db.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert db.head_revision() == "0005_near_field"


def test_unreachable_postgresql_is_one_line_without_the_password() -> None:
    url = "postgresql+psycopg://keyturn:hunter2@127.0.0.1:1/keyturn"

    with pytest.raises(db.DatabaseUnavailable) as caught:
        db.current_revision(url)

    message = str(caught.value)
    assert message.startswith("cannot connect to postgresql+psycopg://keyturn:***@127.0.0.1:1/")
    assert "hunter2" not in message
    assert "\n" not in message


def test_unopenable_sqlite_file_is_database_unavailable() -> None:
    with pytest.raises(db.DatabaseUnavailable, match="unable to open database file"):
        db.upgrade("sqlite:////nonexistent-dir/keyturn/keyturn.db")


def test_a_database_made_by_an_older_build_is_named_with_its_first_difference(
    db_url: str,
) -> None:
    db.upgrade(db_url)
    db.require_current_schema(db_url, "start over")
    engine = db.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE auth_sessions DROP COLUMN last_seen_at"))
    engine.dispose()

    with pytest.raises(db.SchemaMismatch) as refused:
        db.require_current_schema(db_url, "start over")

    message = str(refused.value)
    assert "add_column auth_sessions.last_seen_at" in message
    assert message.endswith("; start over")
