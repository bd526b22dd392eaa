"""`keyturn demo` as a user runs it: a real process serving the API, its locks provisioned and
synced over HTTP, simulated residents at the doors, and the printed tokens used against it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from keyturn.cli.demo import parse_duration
from keyturn.cloud import db
from keyturn.cloud.models import Device
from keyturn.errors import UserError
from keyturn.rules.types import CredentialType

T = TypeVar("T")
TIMEOUT_S = 60
CURL = re.compile(r'curl -H "Authorization: Bearer (kt_[\w-]+)" (http://\S+/events)')
LOCKS = re.compile(r"locks\s+(\d+) \((\d+) found in the data dir, (\d+) provisioned")
DEMO_LOCKS = 23
# Any free port, and a faster pace than the default so a short test sees plenty of history.
OFFLINE_CODE = re.compile(r"offline: the lock at (.+) decided a doorcode by itself")
FAST = ("--port", "0", "--rate", "10", "--sync-every", "1s")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}


class Demo:
    """`keyturn demo` running in the background, its output collected line by line."""

    def __init__(self, data: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keyturn", "--data-dir", str(data), "demo", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "press Ctrl-C to stop" in line:
                self.ready.set()
        self.ready.set()  # the output ended: whoever waits should look, not hang

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self) -> None:
        assert self.ready.wait(TIMEOUT_S), f"no welcome within {TIMEOUT_S} s:\n{self.output}"
        assert self.proc.poll() is None, self._stderr()

    def stop(self) -> int:
        """Stop it as a service manager would (SIGTERM, handled like Ctrl-C); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=TIMEOUT_S)
        self._reader.join(TIMEOUT_S)
        return code

    def _stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def poll_until(self, ask: Callable[[], T], enough: Callable[[T], bool]) -> T:
        """Ask again until the answer is enough, waiting on the process between tries."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            answer = ask()
            if enough(answer):
                return answer
            assert time.monotonic() < deadline, f"still not enough after {TIMEOUT_S} s: {answer}"
            try:
                self.proc.wait(timeout=0.2)  # the pause between tries also notices a crash
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"the demo exited early:\n{self.output}\n{self._stderr()}")


def _run(
    data: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`keyturn demo` to the end, with its output."""
    return subprocess.run(
        [sys.executable, "-m", "keyturn", "--data-dir", str(data), "demo", *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=TIMEOUT_S * 2,
        stdin=subprocess.DEVNULL,
    )


def _events(token: str, url: str) -> list[dict[str, Any]]:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _busy(events: list[dict[str, Any]]) -> bool:
    return len(events) >= 10 and {"granted", "denied"} <= {e["outcome"] for e in events}


def _devices(data: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(data / "keyturn.db") as conn:
        return list(conn.execute("SELECT id, retired_at FROM devices"))


def test_demo_serves_locks_history_and_tokens_then_finds_them_again(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    demo = Demo(data, *FAST)
    try:
        demo.wait_ready()
        (manager_token, events_url), (resident_token, resident_url) = CURL.findall(demo.output)
        assert resident_url == events_url
        # The locks sync over HTTP every second: the manager soon sees their history, with
        # the denials the demo stages (a wrong code, the suspended resident).
        demo.poll_until(lambda: _events(manager_token, events_url), _busy)
        resident = demo.poll_until(lambda: _events(resident_token, events_url), bool)
        manager = _events(manager_token, events_url)
        # The resident token is read-only and sees only what a resident may (V1, V2, V5).
        people = httpx.get(
            events_url.replace("/events", "/people"),
            headers={"Authorization": f"Bearer {resident_token}"},
            timeout=10,
        )
        assert people.status_code == 403, people.text
        # Every demo lock serves its near-field messages and reported where at its sync.
        with sqlite3.connect(data / "keyturn.db") as conn:
            urls = [url for (url,) in conn.execute("SELECT near_field_url FROM devices")]
        reported = [url for url in urls if url is not None]
        assert len(reported) == DEMO_LOCKS
        hello = httpx.get(f"{reported[0]}/hello", timeout=10).json()
        assert hello["protocol"] == "keyturn-near-field/1"
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert len(resident) < len(manager)
    # Of the residence doors, a resident sees their own only.
    assert len({e["door_id"] for e in resident if e["door_kind"] == "residence"}) <= 1
    found = LOCKS.search(demo.output)
    assert found is not None, demo.output
    assert found.groups() == (str(DEMO_LOCKS), "0", str(DEMO_LOCKS))
    for needle in ("stopping", "Keyturn demo summary", "events in cloud", "last sync"):
        assert needle in demo.output
    for name in ("demo-logins.json", "demo-tokens.json", "demo-residents.json", "master.key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    logins = json.loads((data / "demo-logins.json").read_text())
    roles = {login["role"] for login in logins}
    assert roles == {
        "resident",
        "property_manager",
        "portfolio_manager",
        "property_manager (limited keys)",
        "property_manager (security viewer)",
    }
    assert demo.output.index("/portal/") < demo.output.index("/api/v1")
    # One lock per door, and the one replaced before the demo began (its lost entries a gap).
    assert len(_devices(data)) == DEMO_LOCKS + 1
    with sqlite3.connect(data / "keyturn.db") as conn:
        assert conn.execute("SELECT count(*) FROM log_gaps").fetchone() == (1,)
        kinds = dict(conn.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    assert kinds["forced_open"] >= 1
    assert kinds["battery_low"] >= 1

    # Again on the same data dir, with one lock's folder lost: the others are found again,
    # that door gets a new lock and the lost one is retired with a recorded log gap (R4).
    lost = sorted((data / "demo-locks").iterdir())[0]
    shutil.rmtree(lost)
    again = _run(data, "--for", "0s", *FAST)
    assert again.returncode == 0, again.stderr
    found = LOCKS.search(again.stdout)
    assert found is not None, again.stdout
    assert found.groups() == (str(DEMO_LOCKS), str(DEMO_LOCKS - 1), "1")
    assert [token for token, _ in CURL.findall(again.stdout)] == [manager_token, resident_token]
    for needle in ("Keyturn demo summary", "US-NY-NYC", "20 residence", "1 entrance", "health: ok"):
        assert needle in again.stdout
    assert all(login["email"] in again.stdout for login in logins)
    devices = _devices(data)
    assert len(devices) == DEMO_LOCKS + 2
    assert sum(retired is not None for _, retired in devices) == 2
    with sqlite3.connect(data / "keyturn.db") as conn:
        assert conn.execute("SELECT count(*) FROM log_gaps").fetchone() == (2,)


def test_demo_syncs_every_lock_on_each_backend(db_url: str, tmp_path: Path) -> None:
    env = {**_env(), "KEYTURN_DATABASE_URL": db_url}
    result = _run(tmp_path, "--for", "1s", *FAST, env=env)
    assert result.returncode == 0, result.stderr
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            synced = (
                conn.execute(select(Device.last_sync_at).where(Device.retired_at.is_(None)))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    # Every live lock (the one replaced before the demo began is retired).
    assert len(synced) == DEMO_LOCKS
    assert all(moment is not None for moment in synced)
    # At the end every lock syncs once more, so the cloud holds every attempt made.
    attempts = re.search(r"attempts\s+│ (\d+) ", result.stdout)
    in_cloud = re.search(r"events in cloud\s+│ (\d+) ", result.stdout)
    assert attempts is not None, result.stdout
    assert in_cloud is not None, result.stdout
    assert int(in_cloud[1]) >= int(attempts[1])


def _health(base: str) -> str:
    try:
        return str(httpx.get(f"{base}/api/v1/health", timeout=5).json()["status"])
    except httpx.HTTPError:
        return "unreachable"


def _offline_code(event: dict[str, Any], since: datetime, until: datetime) -> bool:
    kind = event["credential_type"]
    return (
        kind is not None
        and CredentialType(kind).is_doorcode
        and since <= datetime.fromisoformat(event["occurred_at"]) <= until
    )


def test_demo_cloud_goes_offline_while_its_locks_decide_and_syncs_when_back(
    tmp_path: Path,
) -> None:
    demo = Demo(tmp_path / "demo", "--port", "0", "--rate", "20", "--sync-every", "1s")
    try:
        demo.wait_ready()
        (token, events_url), _ = CURL.findall(demo.output)
        base = events_url.split("/api/v1")[0]
        assert f"App      {base}/app/" in demo.output
        assert "The resident's login opens the app (/app/)" in demo.output

        went_offline = datetime.now(UTC)
        demo.proc.send_signal(signal.SIGUSR1)
        demo.poll_until(lambda: _health(base), lambda status: status == "unreachable")
        decided = demo.poll_until(
            lambda: OFFLINE_CODE.search(demo.output), lambda found: found is not None
        )
        assert decided is not None
        assert "cloud OFFLINE" in demo.output
        assert _health(base) == "unreachable"  # still: the lock decided with no cloud

        back = datetime.now(UTC)
        demo.proc.send_signal(signal.SIGUSR1)
        demo.poll_until(lambda: _health(base), lambda status: status == "ok")
        synced = demo.poll_until(
            lambda: [e for e in _events(token, events_url) if _offline_code(e, went_offline, back)],
            bool,
        )
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert synced
    assert "cloud ONLINE again" in demo.output
    assert "failed: sync" in demo.output  # the summary counts the syncs that failed offline


def test_parse_duration_names_the_option() -> None:
    with pytest.raises(UserError, match="--sync-every"):
        parse_duration("soon", "--sync-every")
