"""A real `keyturn serve` process for tests: started on a free 127.0.0.1 port against a test's
database, waited for on its health route (with a deadline), and always stopped.

Used by the security regressions (tests/security/conftest.py) and the browser tests
(tests/e2e/browser.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from factories import MASTER_KEY_TEXT

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.05
# Background jobs off unless a test asks: nothing runs behind a test's back.
QUIET_JOBS = {
    "KEYTURN_RETENTION_INTERVAL_S": "0",
    "KEYTURN_OUTBOUND_INTERVAL_S": "0",
    "KEYTURN_RESIDENCY_INTERVAL_S": "0",
}


@dataclass
class LiveServer:
    """A running `keyturn serve`: its base URL, its process, where its output goes and the
    command and environment it was started with (`start_again` reuses them)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(
    condition: Callable[[], object], *, timeout_s: float, what: str, poll_s: float = POLL_S
) -> object:
    """Poll `condition` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(poll_s)


def wait_until_serving(server: LiveServer, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Poll the health route until it answers, the process dies, or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=server.url, timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:
                server.process.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"keyturn serve exited early:\n{server.output()}")
    raise AssertionError(f"keyturn serve did not answer in {timeout_s}s:\n{server.output()}")


def stop(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=STOP_TIMEOUT_S)


def start(
    db_url: str, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None
) -> LiveServer:
    """Start `keyturn serve` on the database with its files in `data_dir`; wait until it
    answers. `env` adds or overrides KEYTURN_* settings; `port` is a free one by default (a
    test that must know the origin first, say for the links in its mail, picks it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port() if port is None else port
    settings = {
        "KEYTURN_DATA_DIR": str(data_dir),
        "KEYTURN_DATABASE_URL": db_url,
        "KEYTURN_MASTER_KEY": MASTER_KEY_TEXT,
        **QUIET_JOBS,
        **(env or {}),
    }
    log = data_dir / "server.log"
    log.write_bytes(b"")
    command = [sys.executable, "-m", "keyturn", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return _launch(f"http://127.0.0.1:{port}", log, command, {**os.environ, **settings})


def start_again(server: LiveServer) -> LiveServer:
    """The stopped `server` started again at the same origin, on the same database, files and
    settings (its log goes on in the same file); waited for like `start`."""
    assert server.process.poll() is not None, "stop the server first"
    return _launch(server.url, server.log, server.command, server.environment)


def _launch(url: str, log: Path, command: list[str], environment: dict[str, str]) -> LiveServer:
    with log.open("ab") as sink:
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=subprocess.STDOUT)
    server = LiveServer(url, process, log, command, environment)
    try:
        wait_until_serving(server)
    except BaseException:
        stop(server)
        raise
    return server


@contextmanager
def serving(db_url: str, data_dir: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """`start`, and `stop` when the block ends, however it ends."""
    server = start(db_url, data_dir, env)
    try:
        yield server
    finally:
        stop(server)
