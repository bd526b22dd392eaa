"""`keyturn setup` as an operator or a CI job runs it: a real process, no terminal on stdin,
then the account it made logging in through the real API with its password and TOTP code.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from factories import MASTER_KEY_TEXT, Clock
from keyturn.cli import context, main, setup
from keyturn.cloud.auth import totp
from keyturn.cloud.models import Account, Person, Portfolio, Property, RoleMembership
from keyturn.errors import UserError
from keyturn.rules.types import Role

LOGIN = "/api/v1/auth/login"
PASSWORD = "correct horse battery staple"
EMAIL = "ops@example.org"
SECRET = re.compile(r"secret ([A-Z2-7]+)")
FLAGS = (
    "--email",
    EMAIL,
    "--name",
    "Olga Operator",
    "--portfolio",
    "Elm Holdings",
    "--property",
    "12 Elm St",
    "--time-zone",
    "America/New_York",
    "--jurisdiction",
    "US-NY-NYC",
)


def _run(
    data: Path, db_url: str, *args: str, password: str | None = PASSWORD
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    env.update(KEYTURN_DATABASE_URL=db_url, KEYTURN_MASTER_KEY=MASTER_KEY_TEXT)
    if password is not None:
        env["KEYTURN_SETUP_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "keyturn", "--data-dir", str(data), "setup", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _counts(db: Session) -> tuple[int, ...]:
    db.rollback()
    return tuple(
        db.scalar(select(func.count()).select_from(model)) or 0
        for model in (Person, Account, Portfolio, Property, RoleMembership)
    )


def test_setup_creates_an_operator_who_logs_in_with_password_and_totp(
    client: TestClient, db: Session, db_url: str, tmp_path: Path, clock: Clock
) -> None:
    done = _run(tmp_path / "data", db_url, "--no-input", *FLAGS)

    assert done.returncode == 0, done.stderr
    secret = base64.b32decode(_padded(SECRET.search(done.stdout)[1]))  # type: ignore[index]
    assert _counts(db) == (1, 1, 1, 1, 1)
    prop = db.scalars(select(Property)).one()
    assert (prop.name, prop.time_zone, prop.jurisdiction) == (
        "12 Elm St",
        "America/New_York",
        "US-NY-NYC",
    )
    membership = db.scalars(select(RoleMembership)).one()
    assert (membership.role, membership.property_id) == (Role.PORTFOLIO_MANAGER, prop.id)
    assert db.scalars(select(Person)).one().email == EMAIL

    without = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD})
    code = totp.code_at(secret, clock.now)
    right = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD, "totp_code": code})
    assert without.status_code == 401
    assert without.json()["type"].endswith("/totp-code-required")
    assert right.status_code == 200, right.text
    assert PASSWORD not in done.stdout + done.stderr


def test_setup_refuses_to_run_twice_and_changes_nothing(
    db: Session, db_url: str, tmp_path: Path
) -> None:
    assert _run(tmp_path / "data", db_url, "--no-input", *FLAGS).returncode == 0
    before = _counts(db)

    again = _run(tmp_path / "data", db_url, "--no-input", *FLAGS)

    assert again.returncode == 2
    assert "set up already" in again.stderr
    assert "--another" in again.stderr
    assert _counts(db) == before
    assert PASSWORD not in again.stdout + again.stderr


def test_setup_another_adds_one_more_portfolio_property_and_operator(
    db: Session, db_url: str, tmp_path: Path
) -> None:
    assert _run(tmp_path / "data", db_url, "--no-input", *FLAGS).returncode == 0
    other = [*FLAGS]
    other[1] = "second@example.org"
    other[other.index("12 Elm St")] = "14 Oak Ave"

    done = _run(tmp_path / "data", db_url, "--no-input", "--another", *other)

    assert done.returncode == 0, done.stderr
    assert _counts(db) == (2, 2, 2, 2, 2)


def test_missing_input_with_no_input_fails_in_one_line(db_url: str, tmp_path: Path) -> None:
    no_email = _run(tmp_path / "data", db_url, "--no-input", *FLAGS[2:])
    no_password = _run(tmp_path / "data", db_url, "--no-input", *FLAGS, password=None)

    assert no_email.returncode == 2
    assert no_email.stderr.strip().count("\n") == 0
    assert "--email is required" in no_email.stderr
    assert no_password.returncode == 2
    assert "KEYTURN_SETUP_PASSWORD" in no_password.stderr


def test_no_terminal_counts_as_no_input(db_url: str, tmp_path: Path) -> None:
    done = _run(tmp_path / "data", db_url, *FLAGS[:-2])  # no --jurisdiction: default

    assert done.returncode == 0, done.stderr


def test_bad_time_zone_is_refused_and_creates_nothing(
    db: Session, db_url: str, tmp_path: Path
) -> None:
    flags = [*FLAGS]
    flags[flags.index("America/New_York")] = "Mars/Olympus_Mons"

    done = _run(tmp_path / "data", db_url, "--no-input", *flags)

    assert done.returncode == 2
    assert "Mars/Olympus_Mons" in done.stderr
    assert "IANA" in done.stderr
    assert _counts(db) == (0, 0, 0, 0, 0)


def test_password_file_is_read_and_never_printed(db: Session, db_url: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD + "\n")

    done = _run(
        tmp_path / "data",
        db_url,
        "--no-input",
        "--password-file",
        str(secret_file),
        *FLAGS,
        password=None,
    )

    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert _counts(db)[1] == 1


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 8)


def _serve_notice(data: Path, db_url: str) -> str:
    """What `keyturn serve` prints on stderr before serving; the server is stopped again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    env.update(KEYTURN_DATABASE_URL=db_url, KEYTURN_MASTER_KEY=MASTER_KEY_TEXT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyturn", "--data-dir", str(data), "serve", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it serves, or ends on exit
        assert "serving on" in first, proc.stderr.read() if proc.stderr else first
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    return stderr


def test_serve_on_an_empty_database_says_to_run_setup_and_serves(
    db_url: str, tmp_path: Path
) -> None:
    before = _serve_notice(tmp_path / "data", db_url)
    assert _run(tmp_path / "data", db_url, "--no-input", *FLAGS).returncode == 0
    after = _serve_notice(tmp_path / "data", db_url)

    assert "run `keyturn setup`" in before
    assert before.strip().count("\n") == 0
    assert "keyturn setup" not in after


def test_interactive_setup_prompts_hides_the_password_and_checks_a_code(
    db: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = bytes(range(20))
    monkeypatch.setattr(context, "_overrides", {})  # --data-dir stays in this test
    monkeypatch.setattr(setup, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(totp, "new_secret", lambda: fixed)
    monkeypatch.delenv("KEYTURN_SETUP_PASSWORD", raising=False)
    monkeypatch.setenv("KEYTURN_DATABASE_URL", db_url)
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)
    answers = [
        EMAIL,
        "Olga Operator",
        PASSWORD,
        PASSWORD,
        "Elm Holdings",
        "12 Elm St",
        "Europe/Berlin",
        "",  # jurisdiction: the default
        totp.code_at(fixed, datetime.now(UTC)),
    ]

    result = CliRunner().invoke(
        main.cli, ["--data-dir", str(tmp_path / "data"), "setup"], input="\n".join(answers) + "\n"
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert totp.base32(fixed) in result.output
    db.rollback()
    prop = db.scalars(select(Property)).one()
    assert (prop.time_zone, prop.jurisdiction) == ("Europe/Berlin", "default")
    assert _counts(db) == (1, 1, 1, 1, 1)


def test_interactive_setup_with_a_wrong_code_creates_nothing(
    db: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "_overrides", {})  # --data-dir stays in this test
    monkeypatch.setattr(setup, "_stdin_is_terminal", lambda: True)
    monkeypatch.setenv("KEYTURN_SETUP_PASSWORD", PASSWORD)
    monkeypatch.setenv("KEYTURN_DATABASE_URL", db_url)
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)

    result = CliRunner().invoke(
        main.cli,
        ["--data-dir", str(tmp_path / "data"), "setup", *FLAGS],
        input="000000\n" * setup.CODE_TRIES,
    )

    assert result.exit_code != 0
    assert isinstance(result.exception, UserError)
    assert "nothing was created" in str(result.exception)
    assert _counts(db) == (0, 0, 0, 0, 0)
