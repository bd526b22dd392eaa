"""The `keyturn` command as a user runs it: real processes, real databases, one-line errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyturn.cli.demo import parse_duration
from keyturn.cloud import db
from keyturn.errors import UserError


def keyturn(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "keyturn", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_help_lists_the_commands() -> None:
    result = keyturn("--help")
    assert result.returncode == 0
    for command in ("db", "serve", "demo", "bench"):
        assert command in result.stdout


def test_a_bad_master_key_is_one_clear_line(tmp_path: Path) -> None:
    result = keyturn(
        "db", "upgrade", env={"KEYTURN_DATA_DIR": str(tmp_path), "KEYTURN_MASTER_KEY": "short"}
    )
    assert_one_line_error(result, "KEYTURN_MASTER_KEY")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql://root@127.0.0.1/x", "KEYTURN_DATABASE_URL"),
        ("not a url at all", "KEYTURN_DATABASE_URL"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "127.0.0.1"),
    ],
)
def test_a_bad_database_url_is_one_clear_line(tmp_path: Path, url: str, needle: str) -> None:
    result = keyturn(
        "db", "upgrade", env={"KEYTURN_DATA_DIR": str(tmp_path), "KEYTURN_DATABASE_URL": url}
    )
    assert_one_line_error(result, needle)


def test_a_password_in_the_database_url_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql+psycopg://user:hunter2secret@127.0.0.1:1/none"
    result = keyturn(
        "db", "upgrade", env={"KEYTURN_DATA_DIR": str(tmp_path), "KEYTURN_DATABASE_URL": url}
    )
    assert result.returncode == 2
    assert "hunter2secret" not in result.stdout + result.stderr


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can write to: a read-only mount for root, mode 0555 otherwise."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True
        )
        if mounted.returncode != 0:
            pytest.skip(
                f"root cannot make a read-only mount here: {mounted.stderr.decode().strip()}"
            )
        yield path
        subprocess.run(["umount", str(path)], check=True)
    else:
        path.chmod(stat.S_IRUSR | stat.S_IXUSR)
        yield path
        path.chmod(stat.S_IRWXU)


def test_a_read_only_data_dir_is_one_clear_line(read_only_dir: Path) -> None:
    result = keyturn("db", "upgrade", env={"KEYTURN_DATA_DIR": str(read_only_dir)})
    assert_one_line_error(result, "KEYTURN_DATA_DIR", "not writable")


def test_db_upgrade_on_each_backend(db_url: str, tmp_path: Path) -> None:
    env = {"KEYTURN_DATA_DIR": str(tmp_path / "data"), "KEYTURN_DATABASE_URL": db_url}
    result = keyturn("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    head = db.head_revision()
    assert head is not None
    assert db.current_revision(db_url) == head
    assert keyturn("db", "current", env=env).stdout.strip() == head


def test_bench_lists_benchmarks_and_rejects_unknown_names() -> None:
    listed = keyturn("bench")
    assert listed.returncode == 0, listed.stderr
    for name in ("decide", "unlock", "sync", "retention"):
        assert name in listed.stdout
    assert_one_line_error(keyturn("bench", "no-such-bench"), "no-such-bench")


@pytest.mark.parametrize(
    ("text", "seconds"), [("15s", 15), ("2m", 120), ("1h", 3600), ("500ms", 0.5), ("3", 3)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "soon", "-1s", "5 days", "1d"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(UserError, match="--for"):
        parse_duration(text)


def test_serve_answers_health_on_each_backend(db_url: str, tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    env.update({"KEYTURN_DATA_DIR": str(tmp_path), "KEYTURN_DATABASE_URL": db_url})
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyturn", "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while body is None:
            assert time.monotonic() < deadline, "server did not answer within 60 s"
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json()
            except httpx.TransportError:
                try:
                    proc.wait(timeout=0.1)  # waits on the process, and notices if it died
                except subprocess.TimeoutExpired:
                    continue
                raise AssertionError(proc.stderr.read().decode()) from None
        assert body["status"] == "ok"
        assert body["database"] == make_url_backend(db_url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def make_url_backend(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).get_backend_name()
