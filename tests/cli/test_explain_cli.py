"""`keyturn explain` and `keyturn access-review` in-process on each backend: names in, words out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from factories import MASTER_KEY_TEXT, give_doorcode, provision_lock
from keyturn.cli import context
from keyturn.cli.main import cli
from keyturn.errors import UserError
from worlds import SYNC_NOW, make_sync_building, sync

AT = "2026-03-02T15:00:00+00:00"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> Callable[..., Result]:
    monkeypatch.setenv("KEYTURN_DATABASE_URL", db_url)
    monkeypatch.setenv("KEYTURN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)
    monkeypatch.setattr(context.console, "width", 200)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args))

    return invoke


def test_explain_and_review_by_names(session: Session, run: Callable[..., Result]) -> None:
    building = make_sync_building(session)
    give_doorcode(session, person_id=building.resident_id, door_id=building.entrance_id)
    device_id = provision_lock(session, door_id=building.entrance_id, now=SYNC_NOW).device_id
    session.commit()
    sync(session, device_id, SYNC_NOW)
    where = ("--property", "12 Elm St", "--door", "Main entrance", "--at", AT)

    said = run("explain", "--person", "ada@example.test", *where)
    assert said.exit_code == 0, said.output
    assert "OPENS" in said.output
    assert "Ada Park can open Main entrance" in said.output
    assert "“Building”" in said.output
    assert "holds the newest list" in said.output

    as_json = run("explain", "--person", "ADA@example.test", *where, "--json")
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert body["opens"] is True
    assert {c["credential_type"]: c["reason"] for c in body["credentials"]} == {
        "personal_doorcode": "granted"
    }

    review = run("access-review", *where)
    assert review.exit_code == 0, review.output
    assert "1 people can open it" in review.output
    assert "Ada Park" in review.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--at", "2026-03-02T15:00:00"), "has no time zone"),
        (("--at", "tomorrow"), "is not an ISO 8601 instant"),
        (("--door", "Back door"), "no single door 'Back door'"),
    ],
)
def test_bad_input_is_one_clear_refusal(
    session: Session, run: Callable[..., Result], args: tuple[str, ...], says: str
) -> None:
    make_sync_building(session)
    session.commit()
    options = {"--property": "12 Elm St", "--door": "Main entrance", "--at": AT}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [part for pair in options.items() for part in pair]
    said = run("explain", "--person", "ada@example.test", *flat)
    assert isinstance(said.exception, UserError)
    assert says in str(said.exception)
