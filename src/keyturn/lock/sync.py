"""Carriers for sealed sync frames: HTTP to the cloud, and a resident's phone as a relay.

A carrier moves opaque bytes; it holds no key, so it can neither read a frame nor change
one without the receiver refusing it. The lock trusts no carrier's account of itself: every
downlink, however it came, passes the same check (keyturn.lock.freshness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from keyturn.lock.agent import DEFAULT_UPLINK_EVENTS, DownlinkResult, Lock
from keyturn.lock.errors import TransportError

SYNC_PATH = "/api/v1/sync"
FRAME_CONTENT_TYPE = "application/octet-stream"


class Transport(Protocol):
    """Delivers an uplink frame to the cloud and returns the cloud's downlink frame."""

    def exchange(self, frame: bytes) -> bytes: ...


class HttpTransport:
    """POST {cloud_url}/api/v1/sync with the frame as application/octet-stream."""

    def __init__(self, cloud_url: str, timeout_s: float = 30.0) -> None:
        import httpx

        self.url = cloud_url.rstrip("/") + SYNC_PATH
        self._client = httpx.Client(timeout=timeout_s)

    def exchange(self, frame: bytes) -> bytes:
        import httpx

        try:
            response = self._client.post(
                self.url, content=frame, headers={"content-type": FRAME_CONTENT_TYPE}
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"sync request failed: {exc}") from None
        if response.status_code != 200:
            raise TransportError(f"sync refused: HTTP {response.status_code}")
        return response.content

    def close(self) -> None:
        self._client.close()


def sync_once(
    lock: Lock, transport: Transport, max_events: int = DEFAULT_UPLINK_EVENTS
) -> DownlinkResult:
    """One round trip: the lock's uplink out, the cloud's downlink applied."""
    reply = transport.exchange(lock.build_uplink(max_events))
    return lock.apply_downlink(reply)


@dataclass
class Phone:
    """A resident's phone relaying frames while it is at the door: bytes in, bytes out.

    `pick_up` takes the lock's uplink, `visit_cloud` trades it for a downlink whenever the
    phone is online, and `drop_off` hands the downlink to the lock at its next visit.
    """

    outbox: list[bytes] = field(default_factory=list)
    inbox: list[bytes] = field(default_factory=list)

    def pick_up(self, lock: Lock, max_events: int = DEFAULT_UPLINK_EVENTS) -> None:
        self.outbox.append(lock.build_uplink(max_events))

    def visit_cloud(self, exchange: Callable[[bytes], bytes]) -> None:
        while self.outbox:
            self.inbox.append(exchange(self.outbox.pop(0)))

    def drop_off(self, lock: Lock) -> list[DownlinkResult]:
        results = []
        while self.inbox:
            results.append(lock.apply_downlink(self.inbox.pop(0)))
        return results
