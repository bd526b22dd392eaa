"""A small building and a fake lock for the provisioning, access-list and sync tests.

The fake lock speaks the real protocol (its own key pair, sealed frames) so the tests
exercise the same bytes a lock sends, without the lock package.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from keyturn.cloud.devices.service import create_provisioning_token, provision_device
from keyturn.cloud.models import Account, Door, Grant, Key, Person, Portfolio, Profile, Property
from keyturn.crypto.codes import door_secret
from keyturn.crypto.keys import SigningKeyPair, VerifyKey
from keyturn.crypto.sealed import seal as seal_secret
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
from keyturn.rules.types import CredentialType, DoorKind, Reason

MASTER_KEY = bytes(range(32))
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
NOW_MS = int(NOW.timestamp() * 1000)


@dataclass
class Building:
    property_id: str
    authority: SigningKeyPair
    entrance_id: str
    gym_id: str
    residence_id: str
    resident_id: str
    manager_id: str
    building_key_id: str
    grant_id: str


def make_building(session: Session) -> Building:
    """A New York property with an entrance, a gym and one residence door, and one resident
    holding the building key (entrance and gym) granted by a manager."""
    authority = SigningKeyPair.generate()
    prop = Property(
        portfolio=Portfolio(name="Elm Holdings"),
        name="12 Elm St",
        time_zone="America/New_York",
        jurisdiction="US-NY-NYC",
        doorcode_length=6,
        lockout_max_failures=4,
        authority_public_key=authority.public_bytes(),
        authority_private_key_sealed=b"",
    )
    session.add(prop)
    session.flush()
    prop.authority_private_key_sealed = seal_secret(
        MASTER_KEY, authority.private_bytes(), f"authority:{prop.id}".encode()
    )
    doors = {}
    for name, kind in (
        ("Main entrance", DoorKind.ENTRANCE),
        ("Gym", DoorKind.COMMON),
        ("Unit 1A", DoorKind.RESIDENCE),
    ):
        door = Door(property_id=prop.id, name=name, kind=kind, secret_sealed=b"")
        session.add(door)
        session.flush()
        door.secret_sealed = seal_secret(
            MASTER_KEY, door_secret(), f"door-secret:{door.id}".encode()
        )
        doors[kind] = door
    resident = Person(display_name="Ada Park", email="ada@example.test")
    manager = Person(display_name="Morgan Manager", email="morgan@example.test")
    session.add_all([resident, manager])
    session.flush()
    session.add_all([Account(person_id=resident.id), Account(person_id=manager.id)])
    key = Key(
        property_id=prop.id,
        name="Building",
        doors=[doors[DoorKind.ENTRANCE], doors[DoorKind.COMMON]],
    )
    session.add(key)
    session.flush()
    grant = Grant(
        person_id=resident.id,
        key_id=key.id,
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        resident=False,
        created_by=manager.id,
    )
    session.add(grant)
    session.flush()
    # Neither has a role here, so New York City treats both as tenants: they agreed in the app.
    session.add_all(
        Profile(
            person_id=person.id,
            portfolio_id=prop.portfolio_id,
            display_name=person.display_name,
            nyc_consent_at=NOW,
        )
        for person in (resident, manager)
    )
    session.flush()
    return Building(
        property_id=prop.id,
        authority=authority,
        entrance_id=doors[DoorKind.ENTRANCE].id,
        gym_id=doors[DoorKind.COMMON].id,
        residence_id=doors[DoorKind.RESIDENCE].id,
        resident_id=resident.id,
        manager_id=manager.id,
        building_key_id=key.id,
        grant_id=grant.id,
    )


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


def provision_lock(
    session: Session, door_id: str, model: str = "keyturn-r1", now: datetime = NOW
) -> FakeLock:
    key = SigningKeyPair.generate()
    token = create_provisioning_token(session, door_id, model, now)
    config = provision_device(session, MASTER_KEY, token, key.public_bytes(), model, now)
    return FakeLock(config=config, key=key)


def attempt(seq: int, building: Building, *, granted: bool = True, **extra: object) -> EventRecord:
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
