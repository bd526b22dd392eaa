"""What the command tests share: a migrated SQLite data dir, a session on it, the command run
in this process (fast, for what it prints) and as a real process (for its one-line errors,
which its entry point prints)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from factories import MASTER_KEY_TEXT
from keyturn.cli import context
from keyturn.cli.main import cli
from keyturn.cloud import db, sessions


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    db.upgrade(f"sqlite:///{tmp_path / 'keyturn.db'}")
    return tmp_path


@pytest.fixture
def data_db(data_dir: Path) -> Iterator[Session]:
    """A session on the data dir's database, to arrange rows before a command reads them."""
    engine = db.make_engine(f"sqlite:///{data_dir / 'keyturn.db'}")
    try:
        with sessions.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Callable[..., str]:
    """Run `keyturn ARGS` in this process on the data dir; return stdout, fail on an error."""
    for name in list(os.environ):
        if name.startswith("KEYTURN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYTURN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KEYTURN_MASTER_KEY", MASTER_KEY_TEXT)
    monkeypatch.setattr(context.console, "width", 240)
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


@pytest.fixture
def fails(data_dir: Path) -> Callable[..., str]:
    """Run a real `keyturn ARGS` process on the data dir that must fail with exit status 2
    and one line on stderr; return that line."""

    def invoke(*args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
        env.update({"KEYTURN_DATA_DIR": str(data_dir), "KEYTURN_MASTER_KEY": MASTER_KEY_TEXT})
        result = subprocess.run(
            [sys.executable, "-m", "keyturn", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        return lines[0]

    return invoke
