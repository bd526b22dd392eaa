"""The lock's near-field service: the challenge, token-and-signature, decision exchange with a
phone, as JSON over HTTP on the loopback interface, standing in for the radio.

The messages are those of docs/near-field.md (which also maps them onto a Bluetooth LE GATT
service); every answer is the lock's own mobile-key path (`Lock.issue_challenge`,
`Lock.present_mobile_key`), journalled before the door opens. The service is open to any
origin, as a radio would be, and keeps no cookies or sessions.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.mobile_keys import signed_challenge
from keyturn.lock.agent import Attempt, Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.errors import LockError
from keyturn.rules.types import Reason

PROTOCOL = "keyturn-near-field/1"
PREFIX = "/near-field/v1"
MAX_BODY_BYTES = 16 * 1024

# What a phone shows for each refusal; the lock's detail, when it has one, is more precise.
REASON_WORDS = {
    Reason.GRANTED: "Unlocked.",
    Reason.UNKNOWN_CREDENTIAL: "The lock does not recognise this key.",
    Reason.WRONG_DOOR: "This key does not open this door.",
    Reason.OUTSIDE_SCHEDULE: "Outside your weekly hours: this key does not open this door now.",
    Reason.NOT_YET_VALID: "This key is not valid yet.",
    Reason.EXPIRED: "This key has expired.",
    Reason.REVOKED: "This key was revoked.",
    Reason.SUSPENDED: "Access for this person is suspended.",
    Reason.KEYPAD_LOCKED_OUT: "The keypad is locked after wrong codes.",
    Reason.LOCKDOWN: "The door is in lockdown.",
}
DETAIL_WORDS = {
    "challenge_not_outstanding": "The lock's question was already answered or is too old; "
    "try again.",
    "token_invalid": "The lock does not recognise this key: it was not issued for this building.",
    "token_malformed": "The lock does not recognise this key.",
    "token_expired": "This mobile key has expired; open the app online to fetch a new one.",
    "challenge_signature_invalid": "The phone's signature does not match this key.",
}

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Allow-Private-Network": "true",
    "Access-Control-Max-Age": "600",
}


class BadMessage(ValueError):
    """A near-field request the lock cannot read; answered 400 with the reason."""


def b64url_decode(text: object, field: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise BadMessage(f"'{field}' must be a non-empty base64url string")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise BadMessage(f"'{field}' is not base64url") from None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unlock_answer(attempt: Attempt) -> dict[str, Any]:
    """The lock's decision as the phone sees it: granted, the reason code and words."""
    reason = attempt.decision.reason
    words = DETAIL_WORDS.get(attempt.detail or "") if not attempt.granted else None
    return {
        "granted": attempt.granted,
        "reason": reason.value,
        "message": words or REASON_WORDS.get(reason, reason.value),
        "detail": attempt.detail,
    }


class NearField:
    """The near-field service of one lock, on 127.0.0.1; `start` serves it on a thread.

    `guard` serialises every call into the Lock with its other users (the stdin runner, the
    demo's traffic); pass the same one to them. `test_clock`, when given, must be the lock's
    hardware clock and turns on POST /near-field/v1/test/clock, which moves it so that the
    lock's time is the one asked for: for tests only, never on a real lock.
    """

    def __init__(
        self,
        lock: Lock,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        guard: threading.RLock | None = None,
        test_clock: ManualClock | None = None,
    ) -> None:
        self.lock = lock
        self.guard = guard if guard is not None else threading.RLock()
        self.test_clock = test_clock
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}{PREFIX}"

    def start(self) -> NearField:
        """Serve on a daemon thread and report the URL in the lock's status from now on."""
        with self.guard:
            self.lock.near_field_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="keyturn-near-field", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        with self.guard:
            self.lock.near_field_url = None

    def __enter__(self) -> NearField:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the messages ------------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL,
            "door_id": self.lock.door_id,
            "device_id": self.lock.device_id,
        }

    def challenge(self) -> dict[str, Any]:
        with self.guard:
            return {"challenge": b64url(self.lock.issue_challenge())}

    def unlock(self, body: object) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadMessage("the body must be a JSON object with 'token' and 'signature'")
        token = b64url_decode(body.get("token"), "token")
        signature = b64url_decode(body.get("signature"), "signature")
        try:
            challenge = signed_challenge(signature)
        except InvalidSignature:
            raise BadMessage("'signature' is not a COSE_Sign1 message over a challenge") from None
        with self.guard:
            attempt = self.lock.present_mobile_key(challenge, token, signature)
        return unlock_answer(attempt)

    def set_test_clock(self, body: object) -> dict[str, Any]:
        assert self.test_clock is not None
        at = body.get("at") if isinstance(body, dict) else None
        try:
            moment = datetime.fromisoformat(at) if isinstance(at, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise BadMessage("'at' must be an ISO 8601 time with a UTC offset")
        with self.guard:
            # The lock's time is the hardware clock plus what signed time taught it.
            self.test_clock.set(moment - timedelta(milliseconds=self.lock.clock.offset_ms))
            return {"lock_time": self.lock.clock.now().isoformat()}


def _handler_for(service: NearField) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "keyturn-lock"
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: with Nagle on, a kept-alive connection waits
        # for the browser's delayed ACK (about 40 ms) before every answer's body.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the lock's stdout carries its JSON events only."""

        def do_OPTIONS(self) -> None:
            self._send(HTTPStatus.NO_CONTENT, None)

        def do_GET(self) -> None:
            if self.path == f"{PREFIX}/hello":
                self._send(HTTPStatus.OK, service.hello())
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": "no such near-field message"})

        def do_POST(self) -> None:
            try:
                body = self._body()
                if self.path == f"{PREFIX}/challenge":
                    self._send(HTTPStatus.OK, service.challenge())
                elif self.path == f"{PREFIX}/unlock":
                    self._send(HTTPStatus.OK, service.unlock(body))
                elif self.path == f"{PREFIX}/test/clock" and service.test_clock is not None:
                    self._send(HTTPStatus.OK, service.set_test_clock(body))
                else:
                    self._send(HTTPStatus.NOT_FOUND, {"error": "no such near-field message"})
            except BadMessage as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            except LockError as exc:
                self._send(HTTPStatus.CONFLICT, {"error": str(exc)})

        def _body(self) -> object:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                raise BadMessage(f"the body is larger than {MAX_BODY_BYTES} bytes")
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return None
            try:
                return json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise BadMessage("the body is not JSON") from None

        def _send(self, status: HTTPStatus, payload: dict[str, Any] | None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in CORS_HEADERS.items():
                self.send_header(name, value)
            self.send_header("Cache-Control", "no-store")
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
