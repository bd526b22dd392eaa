from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import msgspec
import pytest

from keyturn.crypto.keys import VerifyKey
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.provision import provision_with_cloud
from keyturn.lock.runner import handle
from lock.harness import START, Harness

CODE = "4815162"


def _keyturn(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyturn", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KEYTURN_DATA_DIR": "/nonexistent"},
    )


def test_lock_run_reads_commands_and_prints_json_lines(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1", subject="alice"))
    harness.close()
    result = _keyturn(
        "lock",
        "run",
        "--lock-dir",
        str(harness.root),
        stdin=f"code {CODE}\ncode 1000003\nkey\nbogus\nverify\nquit\n",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    attempts = [line for line in lines if line["event"] == "attempt"]
    assert [(a["granted"], a["reason"]) for a in attempts] == [
        (True, "granted"),
        (False, "unknown_credential"),
        (True, "granted"),
    ]
    assert attempts[0]["subject"] == "alice"
    assert any(line["event"] == "error" for line in lines)
    assert {"event": "journal_verified", "entries": 3} in lines
    harness.reopen()


def test_lock_status_prints_the_state(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    harness.close()
    result = _keyturn("lock", "status", "--lock-dir", str(harness.root))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["device_id"], status["access_list_version"]) == ("lock-1", 1)
    harness.reopen()


def test_lock_status_on_an_unprovisioned_dir_is_a_clear_error(tmp_path: Path) -> None:
    result = _keyturn("lock", "status", "--lock-dir", str(tmp_path))
    assert result.returncode == 2
    assert "provision" in result.stderr


def test_handle_covers_the_mobile_and_battery_commands(harness: Harness) -> None:
    from keyturn.crypto.keys import SigningKeyPair
    from keyturn.crypto.mobile_keys import sign_challenge

    phone = SigningKeyPair.generate()
    (issued,) = handle(harness.lock, "challenge", None)
    challenge = bytes.fromhex(issued["challenge"])
    signature = sign_challenge(phone, challenge, harness.door_id)
    token = harness.token(phone)
    (attempt,) = handle(
        harness.lock, f"mobile {challenge.hex()} {token.hex()} {signature.hex()}", None
    )
    assert attempt["granted"]
    assert attempt["credential_type"] == "mobile_key"
    assert handle(harness.lock, "battery 9", None)[0]["event"] == "battery_low"
    assert handle(harness.lock, "sync", None)[0]["event"] == "error"


@pytest.fixture
def provisioning_cloud(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, str]]]]:
    template = Harness(tmp_path / "template")
    template.close()
    requests: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            requests.append({"path": self.path, **body})
            if body["token"] != "one-time-123":
                self.send_response(403)
                self.end_headers()
                return
            reply = msgspec.msgpack.encode(template.config)
            self.send_response(201)  # as the real provisioning route answers
            self.send_header("content-type", "application/msgpack")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", requests
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_provision_sends_token_key_and_model_and_installs_the_config(
    tmp_path: Path, provisioning_cloud: tuple[str, list[dict[str, str]]]
) -> None:
    url, requests = provisioning_cloud
    from keyturn.lock.errors import TransportError

    with pytest.raises(TransportError):
        provision_with_cloud(tmp_path / "bad", url, "wrong", "m1")
    config = provision_with_cloud(tmp_path / "lock", url, "one-time-123", "m1")
    request = requests[-1]
    assert request["path"] == "/api/v1/devices/provision"
    assert request["model"] == "m1"
    # The real route's contract: the raw key in base64url without padding.
    encoded = request["public_key"]
    assert "=" not in encoded
    sent = VerifyKey.from_bytes(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    with Lock.open(tmp_path / "lock", ManualClock(START)) as lock:
        assert lock.device_id == config.device_id
        assert lock.device_key.public_bytes() == sent.public_bytes()
    assert (tmp_path / "lock" / "storage.key").stat().st_mode & 0o777 == 0o600


def test_lock_provision_without_model_leaves_the_model_to_the_token(
    tmp_path: Path, provisioning_cloud: tuple[str, list[dict[str, str]]]
) -> None:
    """As docs/operations.md writes it: `keyturn lock provision --cloud URL --token T`."""
    url, requests = provisioning_cloud
    lock_dir = tmp_path / "lock"

    result = _keyturn(
        "lock", "provision", "--cloud", url, "--token", "one-time-123", "--lock-dir", str(lock_dir)
    )

    assert result.returncode == 0, result.stderr
    assert "model" not in requests[-1]
    with Lock.open(lock_dir, ManualClock(START)) as lock:
        assert lock.device_id


def test_the_lock_never_imports_the_cloud() -> None:
    code = (
        "import sys, keyturn.lock.agent, keyturn.lock.sync, keyturn.lock.runner, "
        "keyturn.lock.provision; "
        "print(sorted(m for m in sys.modules if m.startswith('keyturn.cloud')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_lock_run_serves_near_field_on_a_free_port(harness: Harness) -> None:
    harness.close()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "keyturn", "lock", "run"),
            *("--lock-dir", str(harness.root), "--near-field-port", "0", "--test-hooks"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KEYTURN_DATA_DIR": "/nonexistent"},
    )
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        first = json.loads(process.stdout.readline())
        assert first["event"] == "near_field"
        assert first["url"].startswith("http://127.0.0.1:")
        with httpx.Client(base_url=first["url"], timeout=10) as http:
            assert http.get("/hello").json()["door_id"] == harness.door_id
            assert http.post("/test/clock", json={"at": START.isoformat()}).json() == {
                "lock_time": START.isoformat()
            }
        process.stdin.write("quit\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    harness.reopen()
