"""Which downlinks a lock takes, and what each one proves about the time now.

A downlink either answers the uplink the lock sent last and still awaits (it carries that
uplink's nonce) or was pushed with a sequence number above every push taken, and its signed
time is never older than the newest the lock trusts. Every carrier (HTTP, MQTT, a relaying
phone) hands its frames to this one check, so a carrier can drop or delay a downlink but
never replay it, deliver it after a newer one, or turn the lock's clock back with it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from keyturn.lock.errors import SyncRefused
from keyturn.protocol.messages import UPLINK_NONCE_BYTES, Downlink

# Signed time counts whole seconds: the cloud signed at most this long after `issued_at`.
SIGNED_TIME_RESOLUTION_MS = 1_000


class StaleDownlink(SyncRefused):
    """An authentic downlink the lock does not take: unbound, unawaited, replayed or old."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """A downlink the lock takes, and the bounds it puts on the time now.

    The cloud signed it before the lock got it, so now is at least `earliest_ms`; an answer
    was signed after its uplink left the lock, so now is at most `latest_ms`. A push may have
    waited on its carrier for any time: `latest_ms` is None.
    """

    earliest_ms: int
    latest_ms: int | None
    push_seq: int | None


class DownlinkGate:
    """The uplink the lock awaits an answer to, and the newest push it took."""

    def __init__(self, last_push_seq: int = 0) -> None:
        self.last_push_seq = last_push_seq
        self._awaited: tuple[bytes, int] | None = None  # nonce, hardware ms when it left

    def await_answer(self, hardware_ms: int) -> bytes:
        """The nonce of the uplink about to leave; from now on only its answer is taken."""
        nonce = secrets.token_bytes(UPLINK_NONCE_BYTES)
        self._awaited = (nonce, hardware_ms)
        return nonce

    def admit(self, down: Downlink, *, trusted_ms: int, hardware_ms: int) -> Admitted:
        """What taking `down` proves; StaleDownlink if the lock must not take it.

        Changes nothing: call `taken` once the downlink is applied.
        """
        signed_ms = down.issued_at * 1000
        latest_ms: int | None = None
        if (down.answers is None) == (down.push_seq is None):
            raise StaleDownlink("a downlink answers one uplink or carries a push sequence")
        if down.answers is not None:
            awaited = self._awaited
            if awaited is None or down.answers != awaited[0]:
                raise StaleDownlink("the downlink answers no uplink this lock awaits")
            elapsed = max(0, hardware_ms - awaited[1])
            latest_ms = signed_ms + SIGNED_TIME_RESOLUTION_MS + elapsed
        elif down.push_seq is not None and down.push_seq <= self.last_push_seq:
            raise StaleDownlink(f"push {down.push_seq} is not after push {self.last_push_seq}")
        if signed_ms < trusted_ms:
            raise StaleDownlink("the downlink's signed time is older than the lock trusts")
        return Admitted(signed_ms, latest_ms, down.push_seq)

    def taken(self, admitted: Admitted) -> None:
        """The downlink was applied: its uplink is answered, or its push is the newest."""
        if admitted.push_seq is None:
            self._awaited = None
        else:
            self.last_push_seq = admitted.push_seq
