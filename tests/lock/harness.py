"""A provisioned lock on a manual clock, with an in-process fake cloud built from
keyturn.protocol.sealing and an authority key generated for the test."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from keyturn.crypto.codes import card_mac, code_mac, door_secret
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import issue_mobile_key, sign_challenge
from keyturn.lock.agent import Attempt, DownlinkResult, Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.provision import create_identity, install_config
from keyturn.protocol.messages import (
    AccessList,
    CredentialSpec,
    DeviceStatus,
    DoorConfig,
    Downlink,
    EventRecord,
    LockoutSpec,
    PhotoUpload,
    PurgeCommand,
    ScheduleSpec,
    Uplink,
)
from keyturn.protocol.mobile_claims import token_schedule_claim
from keyturn.protocol.sealing import open_sealed, seal
from keyturn.rules.types import Capability, CredentialType, DoorKind

# A Monday, 10:00 in New York.
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ZONE = "America/New_York"
ALL_CAPABILITIES = tuple(Capability)
NO_CAMERA = tuple(c for c in Capability if c is not Capability.CAMERA)


@dataclass
class Harness:
    root: Path
    kind: DoorKind = DoorKind.ENTRANCE
    capabilities: tuple[Capability, ...] = ALL_CAPABILITIES
    lockout: LockoutSpec = field(default_factory=LockoutSpec)
    code_length: int = 7
    door_id: str = "door-1"
    device_id: str = "lock-1"
    start: datetime = START

    def __post_init__(self) -> None:
        self.clock = ManualClock(self.start)
        self.authority = SigningKeyPair.generate()
        self.secret = door_secret()
        self.sync_key = secrets.token_bytes(32)
        self.device_public = create_identity(self.root)
        self.config = DoorConfig(
            device_id=self.device_id,
            door_id=self.door_id,
            door_kind=self.kind,
            property_id="prop-1",
            time_zone=ZONE,
            capabilities=self.capabilities,
            code_length=self.code_length,
            lockout=self.lockout,
            authority_public_key=self.authority.public_bytes(),
            door_secret=self.secret,
            sync_key=self.sync_key,
        )
        install_config(self.root, self.config)
        self.lock = Lock.open(self.root, self.clock)
        self.version = 0
        self.cloud_events: dict[int, EventRecord] = {}
        self.cloud_photos: dict[str, PhotoUpload] = {}
        self.cloud_status: DeviceStatus | None = None
        self.purges: list[PurgeCommand] = []
        self.firmware: bytes | None = None
        self.pushes = 0

    # -- lock lifecycle ------------------------------------------------------------------

    def reopen(self, power_lost: bool = False) -> Lock:
        self.lock.close()
        self.lock = Lock.open(self.root, self.clock, power_lost=power_lost)
        return self.lock

    def close(self) -> None:
        self.lock.close()

    # -- credentials ---------------------------------------------------------------------

    def code(
        self,
        code: str,
        credential_id: str,
        subject: str = "person-1",
        schedule: ScheduleSpec | None = None,
        kind: CredentialType = CredentialType.PERSONAL_DOORCODE,
        **extra: Any,
    ) -> CredentialSpec:
        return CredentialSpec(
            credential_id=credential_id,
            credential_type=kind,
            lookup=code_mac(self.secret, code),
            subject=subject,
            key_id=extra.pop("key_id", f"key-{credential_id}"),
            grant_id=extra.pop("grant_id", None),
            granted_by=extra.pop("granted_by", None),
            resident=extra.pop("resident", False),
            schedule=schedule or ScheduleSpec(),
            **extra,
        )

    def card(
        self, uid: str, credential_id: str, subject: str = "person-1", **extra: Any
    ) -> CredentialSpec:
        return CredentialSpec(
            credential_id=credential_id,
            credential_type=CredentialType.KEYCARD,
            lookup=card_mac(self.secret, uid),
            subject=subject,
            key_id=extra.pop("key_id", f"key-{credential_id}"),
            grant_id=None,
            granted_by=None,
            resident=extra.pop("resident", False),
            schedule=extra.pop("schedule", ScheduleSpec()),
        )

    def access_list(self, *upserts: CredentialSpec, **fields: Any) -> AccessList:
        """A full list at the next version unless `version` / `base_version` say otherwise."""
        version = fields.pop("version", self.version + 1)
        self.version = max(self.version, version)
        return AccessList(
            door_id=fields.pop("door_id", self.door_id),
            version=version,
            base_version=fields.pop("base_version", None),
            issued_at=int(self.now().timestamp()),
            upserts=upserts,
            **fields,
        )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.millis() / 1000, UTC)

    # -- downlinks -----------------------------------------------------------------------

    def downlink(
        self,
        access_list: AccessList | None = None,
        *,
        signer: SigningKeyPair | None = None,
        issued_at: datetime | None = None,
        stored_through: int | None = None,
        purges: tuple[PurgeCommand, ...] = (),
        firmware: bytes | None = None,
        answers: bytes | None = None,
        push_seq: int | None = None,
    ) -> bytes:
        """A sealed downlink: the answer to the uplink with nonce `answers`, else the next push
        (or push number `push_seq`)."""
        if answers is None and push_seq is None:
            self.pushes += 1
            push_seq = self.pushes
        message = Downlink(
            device_id=self.device_id,
            issued_at=int((issued_at or self.now()).timestamp()),
            stored_through_seq=self.stored_through() if stored_through is None else stored_through,
            answers=answers,
            push_seq=push_seq,
            access_list=access_list,
            purges=purges,
            firmware=firmware,
        )
        return seal(message, signer or self.authority, self.sync_key, self.device_id)

    def push(
        self, *specs: CredentialSpec, issued_at: datetime | None = None, **fields: Any
    ) -> DownlinkResult:
        """Apply a full list with these credentials, pushed by the cloud."""
        frame = self.downlink(self.access_list(*specs, **fields), issued_at=issued_at)
        result = self.lock.apply_downlink(frame)
        assert result.access_list is not None, result
        assert result.access_list.applied, result
        return result

    # -- the fake cloud's sync endpoint --------------------------------------------------

    def stored_through(self) -> int:
        seq = 0
        while seq + 1 in self.cloud_events:
            seq += 1
        return seq

    def receive(self, frame: bytes) -> Uplink:
        uplink = open_sealed(frame, Uplink, self.device_public, self.sync_key, self.device_id)
        for event in uplink.events:
            self.cloud_events[event.seq] = event
        for photo in uplink.photos:
            self.cloud_photos[photo.photo_id] = photo
        self.cloud_status = uplink.status
        return uplink

    def answer(self, frame: bytes, **fields: Any) -> bytes:
        """Store an uplink and return the downlink that answers it (see `downlink`)."""
        uplink = self.receive(frame)
        return self.downlink(answers=uplink.nonce, **fields)

    def exchange(self, frame: bytes) -> bytes:
        return self.answer(frame, purges=tuple(self.purges), firmware=self.firmware)

    def sync(self, max_events: int = 500) -> DownlinkResult:
        return self.lock.apply_downlink(self.exchange(self.lock.build_uplink(max_events)))

    # -- phones --------------------------------------------------------------------------

    def token(
        self,
        phone: SigningKeyPair,
        *,
        subject: str = "person-1",
        credential_id: str = "mk-1",
        key_id: str = "key-mk",
        door_ids: list[str] | None = None,
        not_before: datetime | None = None,
        expires: datetime | None = None,
        schedule: ScheduleSpec | None = None,
        resident: bool = False,
        signer: SigningKeyPair | None = None,
    ) -> bytes:
        start = not_before or self.now() - timedelta(hours=1)
        return issue_mobile_key(
            signer or self.authority,
            phone.public_bytes(),
            key_id,
            door_ids or [self.door_id],
            start,
            expires or start + timedelta(days=3),
            token_schedule_claim(
                schedule or ScheduleSpec(), subject, credential_id, resident=resident
            ),
            start,
        )

    def tap(self, phone: SigningKeyPair, token: bytes, door_id: str | None = None) -> Attempt:
        challenge = self.lock.issue_challenge()
        signature = sign_challenge(phone, challenge, door_id or self.door_id)
        return self.lock.present_mobile_key(challenge, token, signature)


def decode(record: EventRecord) -> dict[str, Any]:
    return msgspec.to_builtins(record)  # type: ignore[no-any-return]
