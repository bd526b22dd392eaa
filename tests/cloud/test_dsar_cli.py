"""`keyturn dsar` in-process on each backend: list, show, hold, refuse and export.

Deadlines are computed from the real clock here, so requests are filed at the current time.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from factories import MASTER_KEY, MASTER_KEY_TEXT
from keyturn.cli import context
from keyturn.cli.main import cli
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import DataSubjectRequest, RequestKind, RequestState
from keyturn.cloud.privacy import requests
from worlds import HistoryWorld, make_history_world


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> Callable[..., str]:
    monkeypatch.setenv("KEYTURN_DATABASE_URL", db_url)
    monkeypatch.setenv("KEYTURN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)
    monkeypatch.setattr(context.console, "width", 200)

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_dsar_commands_review_and_export(
    session: Session, run: Callable[..., str], tmp_path: Path
) -> None:
    world: HistoryWorld = make_history_world(session)
    now = utcnow()
    copy = requests.file_request(
        session=session,
        master_key=MASTER_KEY,
        person_id=world.people["resident"],
        kind=RequestKind.COPY,
        now=now,
    )
    assert copy.code is not None
    requests.confirm_code(
        session, MASTER_KEY, copy.request, copy.code, "resident@example.org", "resident", now
    )
    other = requests.file_request(
        session=session,
        master_key=MASTER_KEY,
        person_id=world.people["neighbour"],
        kind=RequestKind.DELETION,
        now=now,
    ).request
    session.commit()

    listed = run("dsar", "list")
    assert copy.request.id[:8] in listed
    assert other.id[:8] in listed
    run("dsar", "hold", other.id[:8], "--reason", "law enforcement request")
    assert "law enforcement request" in run("dsar", "show", other.id)
    run("dsar", "refuse", other.id, "--reason", "fraud investigation")
    out = tmp_path / "copy.zip"
    run("dsar", "export", copy.request.id, "--out", str(out))
    assert "contact.json" in zipfile.ZipFile(io.BytesIO(out.read_bytes())).namelist()
    session.expire_all()
    assert session.get_one(type(other), other.id).state == RequestState.REFUSED
    assert session.get_one(type(other), copy.request.id).state == RequestState.COMPLETED


def test_dsar_file_records_a_phoned_request_with_its_channel_and_received_date(
    session: Session, run: Callable[..., str]
) -> None:
    world = make_history_world(session)
    session.commit()
    received = (utcnow() - timedelta(days=3)).replace(microsecond=0)

    said = run(
        "dsar",
        "file",
        "--property",
        "12 Elm St",
        "--kind",
        "deletion",
        "--channel",
        "phone",
        "--name",
        "Ana Pérez",
        "--phone",
        "+1 415 555 0134",
        "--received",
        received.strftime("%Y-%m-%dT%H:%M:%S"),
    )

    session.expire_all()
    row = session.scalars(select(DataSubjectRequest)).one()
    assert row.id[:8] in said
    assert (row.channel, row.property_id, row.filed_by) == ("phone", world.property_id, None)
    assert row.received_at == received
    assert row.due_at == received + timedelta(days=45)
    assert row.state == RequestState.VERIFYING
    listed = run("dsar", "list")
    assert "phone" in listed
    shown = run("dsar", "show", row.id[:8])
    assert "not verified: check who asked" in shown
    assert "no known person" in shown
    known = run(
        "dsar",
        "file",
        "--property",
        world.property_id,
        "--kind",
        "copy",
        "--channel",
        "email",
        "--name",
        "G",
        "--email",
        "guest@example.org",
    )
    assert "matches person guest" in run("dsar", "show", known.split()[0])


def test_dsar_file_refuses_an_unknown_property(session: Session, run: Callable[..., str]) -> None:
    make_history_world(session)
    session.commit()

    result = CliRunner().invoke(
        cli,
        [
            "dsar",
            "file",
            "--property",
            "Nowhere",
            "--kind",
            "copy",
            "--channel",
            "post",
            "--name",
            "Ana",
            "--phone",
            "1",
        ],
    )

    assert result.exit_code != 0
    assert "no property named" in str(result.exception)
