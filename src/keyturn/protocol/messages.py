"""Every message a lock and the cloud exchange, as typed msgspec structs.

Structs are frozen, reject unknown fields, and carry the protocol version in the sealed
envelope's content type, so an old lock refuses a message it cannot understand.
"""

from __future__ import annotations

from msgspec import Struct

from keyturn.rules.types import Capability, CredentialType, DoorKind, Reason

# 2: uplinks carry a nonce; a downlink answers one uplink or carries a push sequence.
PROTOCOL_VERSION = 2
# An uplink's nonce: random, so nobody can sign an answer to it before the lock sent it.
UPLINK_NONCE_BYTES = 16


class Message(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every protocol struct."""


class WindowSpec(Message, frozen=True):
    """A weekly window in the property's local time: weekday 0=Monday, minutes from midnight."""

    weekday: int
    start_minute: int
    end_minute: int  # 1440 means the midnight that ends the day


class ScheduleSpec(Message, frozen=True):
    """Weekly windows (none means any time) and validity bounds as UTC epoch seconds."""

    windows: tuple[WindowSpec, ...] = ()
    starts_at: int | None = None
    ends_at: int | None = None


class LockoutSpec(Message, frozen=True):
    max_failures: int = 5
    window_s: int = 600
    first_cooldown_s: int = 60
    max_cooldown_s: int = 3600


class CredentialSpec(Message, frozen=True):
    """One credential as a lock stores it.

    `lookup` is how the lock finds it: the keyed MAC of a doorcode, or the card identifier's
    keyed MAC for a keycard (mobile keys are found by their verified token, so it is empty).
    """

    credential_id: str
    credential_type: CredentialType
    lookup: bytes
    subject: str
    key_id: str | None
    grant_id: str | None
    granted_by: str | None
    resident: bool
    schedule: ScheduleSpec = ScheduleSpec()
    use_window_s: int | None = None  # one-time code: valid this long after its first use


class SingleDayRevocation(Message, frozen=True):
    local_date: str  # ISO date in the property's zone
    slot: int


class AccessList(Message, frozen=True):
    """A door's access list. `base_version` None means full; otherwise a delta on that version."""

    door_id: str
    version: int
    base_version: int | None
    issued_at: int
    upserts: tuple[CredentialSpec, ...] = ()
    removals: tuple[str, ...] = ()  # credential ids
    revoked_credential_ids: tuple[str, ...] = ()
    revoked_key_ids: tuple[str, ...] = ()
    suspended_subjects: tuple[str, ...] = ()
    single_day_revocations: tuple[SingleDayRevocation, ...] = ()
    single_day_slots: int = 0  # slots 0..n-1 are live each day; the lock derives their codes
    lockdown: bool = False


class PurgeCommand(Message, frozen=True):
    """Remove one person's records and photos from the lock (a data-subject deletion)."""

    request_id: str
    subject: str


class FirmwareManifest(Message, frozen=True):
    version: int
    sha256: bytes
    size: int


class Downlink(Message, frozen=True):
    """What the cloud sends a lock; `issued_at` is the signed time (epoch seconds).

    A downlink is bound to exactly one of: `answers`, the nonce of the uplink it answers, or
    `push_seq`, its place in the cloud's numbering of what it pushed to this lock unasked
    (from 1, strictly increasing). The lock takes nothing that is bound to neither.
    """

    device_id: str
    issued_at: int
    stored_through_seq: int  # every event up to here is safely in the cloud
    answers: bytes | None = None
    push_seq: int | None = None
    access_list: AccessList | None = None
    purges: tuple[PurgeCommand, ...] = ()
    firmware: bytes | None = None  # a FirmwareManifest sealed on its own by the authority


class EventRecord(Message, frozen=True):
    """One journal entry as uploaded; `chain` is the hash chain value after this entry."""

    seq: int
    occurred_at: int  # epoch milliseconds on the lock's clock
    clock_uncertain: bool
    kind: str  # an EventKind value (protocol.event_kinds), kept as text on the wire
    chain: bytes
    credential_type: CredentialType | None = None
    credential_id: str | None = None
    subject: str | None = None
    grant_id: str | None = None
    granted_by: str | None = None
    by_resident: bool = False
    reason: Reason | None = None
    photo_id: str | None = None
    detail: str | None = None
    # A purged entry keeps only seq, time and chain plus the SHA-256 commitment of the
    # original record, so the hash chain still verifies without the person's data.
    commitment: bytes | None = None


class PhotoUpload(Message, frozen=True):
    """A photo, still encrypted under its own key; the key travels inside the sealed batch."""

    photo_id: str
    seq: int
    content_type: str
    data_key: bytes
    ciphertext: bytes


class DeviceStatus(Message, frozen=True):
    firmware_version: int
    access_list_version: int
    battery_pct: int
    clock_offset_ms: int
    purges_done: tuple[str, ...] = ()  # request ids
    last_seq: int = 0  # the newest journal seq on the lock
    journal_floor: int = 0  # entries up to here were acknowledged and pruned from the lock
    # Where a phone reaches the lock's near-field service (keyturn.lock.near_field); None for
    # a lock without one. Omitted when None, so a lock that has none syncs as before.
    near_field_url: str | None = None


class Uplink(Message, frozen=True):
    """A batch of journal entries `from_seq..to_seq` (inclusive) and the lock's status."""

    device_id: str
    from_seq: int
    to_seq: int
    events: tuple[EventRecord, ...]
    photos: tuple[PhotoUpload, ...]
    status: DeviceStatus
    sent_at: int  # epoch milliseconds on the lock's clock
    nonce: bytes  # UPLINK_NONCE_BYTES random bytes; the downlink that answers carries them


class DoorConfig(Message, frozen=True):
    """What a lock learns once, at provisioning."""

    device_id: str
    door_id: str
    door_kind: DoorKind
    property_id: str
    time_zone: str
    capabilities: tuple[Capability, ...]
    code_length: int
    lockout: LockoutSpec
    authority_public_key: bytes
    door_secret: bytes
    sync_key: bytes  # shared with the cloud; seals bundles so a relaying phone can't read them
