"""`keyturn pms` in process on each backend: a dry run prints the changes with names and units
and changes nothing, a real run applies them, reviews are listed and decided, and a bad file
is one line with exit status 2."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from factories import MASTER_KEY_TEXT, row_counts
from keyturn.cli import context
from keyturn.cli.main import app, cli
from keyturn.cloud.people.pms.connectors import PmsResident, write_file
from worlds import make_residency_building

NOW_ARG = "2026-03-02T09:00:00Z"
ROWS = [
    PmsResident("Bea Lund", "bea@example.test", "4B", date(2026, 3, 1), None, "L-1"),
    PmsResident("Ada Parker", "ada@example.test", "5C", date(2026, 3, 1), None, "L-2"),
]


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> Callable[..., Result]:
    for name in list(os.environ):
        if name.startswith("KEYTURN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYTURN_DATABASE_URL", db_url)
    monkeypatch.setenv("KEYTURN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)
    monkeypatch.setattr(context.console, "width", 200)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["pms", *args], catch_exceptions=False)

    return run


def test_pms_sync_prints_the_changes_and_applies_them(
    session: Session, invoke: Callable[..., Result], tmp_path: Path
) -> None:
    make_residency_building(session)
    session.commit()
    export = tmp_path / "export.csv"
    write_file(export, ROWS)
    before = row_counts(session)

    dry = invoke(
        "sync", "--property", "12 Elm St", "--file", str(export), "--dry-run", "--now", NOW_ARG
    )

    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "PMS sync of 12 Elm St (dry run, nothing changed)",
        "moves in (1):",
        "  + Bea Lund <bea@example.test>, unit 4B, 2026-03-01 to open",
        "waiting for review (1):",
        "  ? 'Ada Parker' in the PMS is 'Ada Park' here <ada@example.test>, unit 5C (new)",
        "unchanged: 0",
    ]
    assert row_counts(session) == before

    applied = invoke(
        "sync", "--property", "12 Elm St", "--file", str(export), "--json", "--now", NOW_ARG
    )
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    assert report["applied"]
    assert report["counts"]["moves_in"] == 1
    assert report["moves_in"][0]["unit"] == "4B"

    listed = invoke("reviews", "--property", "12 Elm St", "--json")
    [review] = json.loads(listed.stdout)
    assert review["state"] == "pending"
    decided = invoke("review", review["id"], "--accept", "--now", NOW_ARG)
    assert decided.stdout.strip() == f"review {review['id']}: accepted"
    again = invoke("sync", "--property", "12 Elm St", "--file", str(export), "--now", NOW_ARG)
    assert "  + Ada Parker <ada@example.test>, unit 5C, 2026-03-01 to open" in again.stdout
    assert again.stdout.splitlines()[-1] == "unchanged: 1"


def test_pms_bad_input_is_one_line_and_exit_status_2(
    session: Session,
    invoke: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_residency_building(session)
    session.commit()
    export = tmp_path / "export.csv"
    export.write_text("name,email,unit,lease_start\nBea Lund,bea@,4B,2026-03-01\n")
    before = row_counts(session)

    for args, message in (
        (["--file", str(export)], "export.csv line 2, field email"),
        (["--file", str(tmp_path / "export.xlsx")], "must end in .csv or .json"),
    ):
        monkeypatch.setattr(
            "sys.argv", ["keyturn", "pms", "sync", "--property", "12 Elm St", *args]
        )
        with pytest.raises(SystemExit) as exited:
            app()
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert message in err
        assert len(err.strip().splitlines()) == 1, err
    monkeypatch.setattr(
        "sys.argv", ["keyturn", "pms", "sync", "--property", "Nowhere", "--file", str(export)]
    )
    with pytest.raises(SystemExit):
        app()
    assert "no property named 'Nowhere'" in capsys.readouterr().err
    assert row_counts(session) == before
