"""A fake lock for the provisioning, access-list and sync tests, in `worlds.SyncBuilding`.

The fake lock speaks the real protocol (its own key pair, sealed frames) so the tests
exercise the same bytes a lock sends, without the lock package.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from factories import provision_lock
from keyturn.crypto.keys import SigningKeyPair, VerifyKey
from keyturn.protocol.messages import (
    UPLINK_NONCE_BYTES,
    DeviceStatus,
    DoorConfig,
    Downlink,
    EventRecord,
    PhotoUpload,
    Uplink,
)
from keyturn.protocol.sealing import open_sealed, seal
from keyturn.rules.types import CredentialType, Reason
from worlds import SYNC_NOW, SyncBuilding

NOW = SYNC_NOW  # a Monday, 10:00 in New York
NOW_MS = int(NOW.timestamp() * 1000)


def public_key_text(key: SigningKeyPair) -> str:
    return base64.urlsafe_b64encode(key.public_bytes()).decode().rstrip("=")


@dataclass
class FakeLock:
    """A lock reduced to its keys and config: it numbers entries and seals uplinks."""

    config: DoorConfig
    key: SigningKeyPair
    applied_version: int = 0
    clock_ms: int = NOW_MS
    sent: list[bytes] = field(default_factory=list)

    @property
    def device_id(self) -> str:
        return self.config.device_id

    def uplink(
        self,
        events: list[EventRecord],
        *,
        photos: tuple[PhotoUpload, ...] = (),
        journal_floor: int = 0,
        signer: SigningKeyPair | None = None,
        nonce: bytes | None = None,
        near_field_url: str | None = None,
    ) -> bytes:
        """A sealed uplink carrying `events`; each call's clock reading is later."""
        self.clock_ms += 1000
        seqs = [event.seq for event in events] or [0]
        status = DeviceStatus(
            firmware_version=3,
            access_list_version=self.applied_version,
            battery_pct=87,
            clock_offset_ms=0,
            journal_floor=journal_floor,
            near_field_url=near_field_url,
        )
        message = Uplink(
            device_id=self.device_id,
            from_seq=min(seqs),
            to_seq=max(seqs),
            events=tuple(events),
            photos=photos,
            status=status,
            sent_at=self.clock_ms,
            nonce=secrets.token_bytes(UPLINK_NONCE_BYTES) if nonce is None else nonce,
        )
        return seal(message, signer or self.key, self.config.sync_key, self.device_id)

    def open(self, frame: bytes, authority_public: bytes) -> Downlink:
        return open_sealed(
            frame,
            Downlink,
            VerifyKey.from_bytes(authority_public),
            self.config.sync_key,
            self.device_id,
        )


def provision_fake_lock(
    session: Session, door_id: str, model: str = "keyturn-r1", now: datetime = NOW
) -> FakeLock:
    """A lock enrolled at the door through the devices service, played by the test."""
    key = SigningKeyPair.generate()
    config = provision_lock(session, door_id=door_id, model=model, now=now, key=key)
    return FakeLock(config=config, key=key)


def attempt(
    seq: int, building: SyncBuilding, *, granted: bool = True, **extra: object
) -> EventRecord:
    """A keycard attempt by the building's resident, `seq` seconds after NOW."""
    values: dict[str, object] = {
        "seq": seq,
        "occurred_at": NOW_MS + seq * 1000,
        "clock_uncertain": False,
        "kind": "attempt",
        "chain": seq.to_bytes(32, "big"),
        "credential_type": CredentialType.KEYCARD,
        "credential_id": f"card-{seq % 3}",
        "subject": building.resident_id,
        "grant_id": building.grant_id,
        "granted_by": building.manager_id,
        "reason": Reason.GRANTED if granted else Reason.OUTSIDE_SCHEDULE,
    }
    values.update(extra)
    return EventRecord(**values)  # type: ignore[arg-type]
