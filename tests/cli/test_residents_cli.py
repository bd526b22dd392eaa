"""`keyturn resident move-in|move-out|list` in process on each backend, by names and emails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from factories import MASTER_KEY_TEXT
from keyturn.cli import context
from keyturn.cli.main import cli
from keyturn.cloud.models import Grant, RoleMembership
from keyturn.errors import UserError
from keyturn.rules.types import Role
from worlds import make_residency_building


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> Callable[..., str]:
    monkeypatch.setenv("KEYTURN_DATABASE_URL", db_url)
    monkeypatch.setenv("KEYTURN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)
    monkeypatch.setattr(context.console, "width", 200)

    def invoke(*args: str, ok: bool = True) -> str:
        """The output; with `ok` False, the one-line UserError the command failed with."""
        result = CliRunner().invoke(cli, list(args), catch_exceptions=not ok)
        if ok:
            assert result.exit_code == 0, result.output
            return result.output
        assert isinstance(result.exception, UserError), result.exception
        return str(result.exception)

    return invoke


def test_move_in_list_and_move_out_by_names_and_emails(
    session: Session, run: Callable[..., str]
) -> None:
    building = make_residency_building(session)
    session.commit()
    where = ("--property", "12 Elm St")

    ada = run("resident", "move-in", *where, "--unit", "4B", "--email", "ada@example.test")
    assert "Ada Park <ada@example.test> lives in 4B at 12 Elm St from" in ada
    lee = run(
        "resident", "move-in", *where, "--unit", "5C", "--email", "lee@example.test",
        "--name", "Lee Chan", "--from", "2026-01-01", "--until", "2099-06-30",
    )  # fmt: skip
    assert "lives in 5C at 12 Elm St from" in lee
    assert "until 2099-06-30 00:00" in lee

    listed = run("resident", "list", *where)
    assert "Ada Park" in listed
    assert "ada@example.test" in listed
    assert "Lee Chan" in listed
    assert "scheduled move out" in listed

    later = run(
        "resident", "move-out", *where, "--unit", "5C", "--email", "lee@example.test",
        "--at", "2099-01-01T10:00",
    )  # fmt: skip
    assert "moves out of 5C at 2099-01-01 10:00" in later
    out = run("resident", "move-out", *where, "--unit", "4B", "--email", "ada@example.test")
    assert "Ada Park <ada@example.test> moved out of 4B; revoked: 1 grants" in out
    assert "Entrance" in out
    assert "4B door" in out
    assert "at its next sync" in out
    assert "ended" in run("resident", "list", *where, "--unit", "4B")

    session.expire_all()
    grant = session.scalars(select(Grant).where(Grant.person_id == building.resident_id)).one()
    assert grant.revoked_at is not None
    lee_home = session.scalars(
        select(RoleMembership).where(
            RoleMembership.role == Role.RESIDENT, RoleMembership.unit_id == building.other_unit_id
        )
    ).one()
    assert lee_home.ended_at is None
    assert lee_home.ends_at is not None
    assert lee_home.ends_at.year == 2099


def test_unknown_people_units_and_properties_are_one_line_errors(
    session: Session, run: Callable[..., str]
) -> None:
    make_residency_building(session)
    session.commit()
    where = ("--property", "12 Elm St")

    nobody = run(
        "resident", "move-in", *where, "--unit", "4B", "--email", "x@example.test", ok=False
    )
    assert "give --name" in nobody
    assert "no unit '9Z'" in run("resident", "list", *where, "--unit", "9Z", ok=False)
    assert "no property named" in run("resident", "list", "--property", "Nowhere", ok=False)
    gone = run(
        "resident", "move-out", *where, "--unit", "4B", "--email", "ada@example.test", ok=False
    )
    assert "does not live in 4B" in gone
