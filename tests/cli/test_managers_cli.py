"""`keyturn manager` in-process on each backend: list, set and remove, as the operator.

The operator's changes go through the managers service and are audited with no actor; bad
input is one line and exit status 2, with nothing changed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from factories import MASTER_KEY_TEXT
from keyturn.cli import context
from keyturn.cli import main as keyturn_main
from keyturn.cli.main import cli
from keyturn.cloud.models import AuditRecord, RoleMembership, RolePermission
from keyturn.cloud.privacy import audit
from keyturn.rules.types import Permission, Role
from worlds import Personas, make_personas


@pytest.fixture
def personas(session: Session) -> Personas:
    made = make_personas(session)
    session.commit()
    return made


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("KEYTURN_DATABASE_URL", db_url)
    monkeypatch.setenv("KEYTURN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)
    monkeypatch.setattr(context.console, "width", 200)


@pytest.fixture
def run(env: None) -> Callable[..., str]:
    def invoke(*args: str) -> str:
        result = CliRunner().invoke(cli, ["manager", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def _permissions(session: Session, person_id: str) -> set[Permission]:
    session.expire_all()
    rows = session.scalars(
        select(RolePermission.permission).where(RolePermission.person_id == person_id)
    )
    return {Permission(p) for p in rows}


def test_set_list_and_remove_a_manager_by_names(
    session: Session, personas: Personas, run: Callable[..., str]
) -> None:
    staff = personas.people["staff"]
    out = run(
        "set",
        "--property",
        "12 Elm St",
        "--email",
        "staff@example.org",
        "--keys",
        "specific",
        "--key",
        "Gym",
        "--key",
        "Roof",
        "--security-viewer",
    )
    assert "keys specific (Gym, Roof)" in out
    assert "security viewer yes" in out
    assert _permissions(session, staff) == {Permission.KEYS_SPECIFIC, Permission.SECURITY_VIEWER}

    listed = run("list", "--property", personas.property_id)
    assert "staff@example.org" in listed
    assert "specific (Gym, Roof)" in listed
    assert "by the operator" in listed
    entries = {e["email"]: e for e in json.loads(run("list", "--property", "12 Elm St", "--json"))}
    assert entries["staff@example.org"]["managed_keys"] == [
        {"id": personas.managed_key_id, "name": "Gym"},
        {"id": personas.other_key_id, "name": "Roof"},
    ]
    assert entries["portfolio_manager@example.org"]["role"] == "portfolio_manager"
    assert entries["pm_keys_full@example.org"]["keys"] == "full"
    assert "resident@example.org" not in entries

    run("remove", "--property", "12 Elm St", "--email", "staff@example.org")
    assert _permissions(session, staff) == set()
    roles = session.scalars(select(RoleMembership.role).where(RoleMembership.person_id == staff))
    assert list(roles) == [Role.STAFF]
    records = session.scalars(
        select(AuditRecord).where(AuditRecord.object_id == staff).order_by(AuditRecord.at)
    ).all()
    assert sorted(r.action for r in records) == ["manager.appointed", "manager.removed"]
    assert {r.actor_person_id for r in records} == {None}
    assert all(audit.by_operator(r.detail) for r in records)  # the operator's, not the system's


def test_set_with_json_answers_the_manager(personas: Personas, run: Callable[..., str]) -> None:
    out = run(
        "set",
        "--property",
        "12 Elm St",
        "--email",
        "pm_keys_full@example.org",
        "--keys",
        "limited",
        "--device-management",
        "--json",
    )
    answer = json.loads(out)
    assert (answer["keys"], answer["device_management"], answer["security_viewer"]) == (
        "limited",
        True,
        False,
    )


ELM, STAFF = "12 Elm St", "staff@example.org"


def _set(where: str, email: str, keys: str, *extra: str) -> list[str]:
    return ["set", "--property", where, "--email", email, "--keys", keys, *extra]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (_set("Nowhere", STAFF, "full"), "no property named 'Nowhere'"),
        (_set(ELM, "nobody@example.org", "full"), "nobody@example.org"),
        (_set(ELM, STAFF, "specific", "--key", "Attic"), "no key named 'Attic'"),
        (_set(ELM, STAFF, "specific"), "only: name at least one"),
        (_set(ELM, STAFF, "full", "--key", "Gym"), "with the level 'specific'"),
        (_set("3 Oak Ave", STAFF, "full"), STAFF),
        (["remove", "--property", ELM, "--email", STAFF], "not a property manager"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_with_nothing_changed(
    session: Session,
    personas: Personas,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    needle: str,
) -> None:
    monkeypatch.setattr(sys, "argv", ["keyturn", "manager", *args])
    with pytest.raises(SystemExit) as exited:
        keyturn_main.app()
    assert exited.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert needle in lines[0]
    assert _permissions(session, personas.people["staff"]) == set()
    assert session.scalars(select(AuditRecord.id)).all() == []
