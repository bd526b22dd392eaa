"""`keyturn serve` as a real process on a free 127.0.0.1 port, for the edge tests.

The server runs on SQLite in its own data dir and is always stopped when the block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_S = 60.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_kb(self) -> int:
        """The server's peak resident memory (VmHWM) so far, in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(data_dir: Path, master_key: str, env: Mapping[str, str] = {}) -> Iterator[Server]:
    """Start `keyturn serve`, wait until /health answers 200, stop it afterwards."""
    port = free_port()
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")},
        "KEYTURN_DATA_DIR": str(data_dir),
        "KEYTURN_MASTER_KEY": master_key,
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "keyturn", "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Server(process, port, data_dir)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{server.url}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)  # polls the health route until it answers
        yield server
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT_S)
        if process.stderr:
            process.stderr.close()
