"""The cloud's half of a sync: open a lock's uplink, store it, and answer with a downlink.

Nothing is stored unless the frame decrypts under the lock's sync key and carries the lock's
signature; what is stored is idempotent, so a carrier that replays or reorders frames
changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.codes import record_one_time_uses
from keyturn.cloud.devices.errors import InvalidBatch, MalformedFrame, UnknownDevice, UplinkRejected
from keyturn.cloud.devices.service import access_list_update, sync_key_context
from keyturn.cloud.history.ingestion import (
    advance_stored_through,
    from_epoch_ms,
    ingest_events,
    ingest_photos,
    record_lost_entries,
)
from keyturn.cloud.models import (
    CREDENTIAL_ID_LENGTH,
    EVENT_KIND_LENGTH,
    LOCK_PHOTO_ID_LENGTH,
    Device,
    Door,
    Property,
)
from keyturn.cloud.privacy.lock_purges import pending_purges, record_purges_done
from keyturn.cloud.properties.service import open_authority
from keyturn.cloud.webhooks.service import enqueue_device_events
from keyturn.crypto.keys import VerifyKey
from keyturn.crypto.sealed import unseal
from keyturn.protocol.event_kinds import EventKind
from keyturn.protocol.messages import UPLINK_NONCE_BYTES, Downlink, Uplink
from keyturn.protocol.sealing import ProtocolError, open_sealed, peek_device, seal

MAX_BATTERY_PCT = 100
NEAR_FIELD_URL_MAX = 300
# A lock with its door and the door's property (whose authority signs the reply), in one go.
_LOCK_AT_DOOR = (
    select(Device, Door, Property)
    .join(Door, Door.id == Device.door_id)
    .join(Property, Property.id == Door.property_id)
    .where(Device.id == bindparam("device"))
)


def handle_uplink(
    session: Session, master_key: bytes, photo_dir: Path, frame: bytes, now: datetime
) -> bytes:
    """Verify and store one uplink frame and return the sealed downlink for the lock.

    Raises MalformedFrame, UnknownDevice (unknown or retired), UplinkRejected or
    InvalidBatch before anything is written. The caller commits the session.
    """
    try:
        device_id = peek_device(frame)
    except ProtocolError as exc:
        raise MalformedFrame(str(exc)) from None
    found = session.execute(_LOCK_AT_DOOR, {"device": device_id}).first()
    if found is None or found.Device.retired_at is not None:
        raise UnknownDevice(f"no active lock {device_id}")
    device, door, prop = found
    sync_key = unseal(master_key, device.sync_key_sealed, sync_key_context(device.id))
    try:
        uplink = open_sealed(
            frame, Uplink, VerifyKey.from_bytes(device.public_key), sync_key, device.id
        )
    except ProtocolError as exc:
        raise UplinkRejected(str(exc)) from None
    _check_batch(uplink)

    stored = ingest_events(session, device, door, uplink.events, now)
    record_one_time_uses(session, door.id, uplink.events)
    ingest_photos(session, master_key, photo_dir, device, door, uplink.photos, now)
    session.flush()
    # Runs on every uplink: it also unlinks a deleted person's entries that arrive late.
    record_purges_done(session, device, uplink.status.purges_done, now, photo_dir)
    enqueue_device_events(session, device.id, stored, now)
    record_lost_entries(
        session, device, uplink.status.journal_floor, now, "the lock no longer holds these"
    )
    stored_through = advance_stored_through(session, device)
    _apply_status(device, uplink, now)
    update = access_list_update(
        session, master_key, door.id, uplink.status.access_list_version, now
    )
    session.flush()
    downlink = Downlink(
        device_id=device.id,
        issued_at=int(now.timestamp()),
        stored_through_seq=stored_through,
        answers=uplink.nonce,
        access_list=update,
        purges=pending_purges(session, device),
    )
    authority = open_authority(master_key, prop.id, prop.authority_private_key_sealed)
    return seal(downlink, authority, sync_key, device.id)


def _check_batch(uplink: Uplink) -> None:
    """Refuse a batch whose entries break the uplink's own promises or our columns."""
    seen: set[int] = set()
    for record in uplink.events:
        if not uplink.from_seq <= record.seq <= uplink.to_seq or record.seq < 1:
            raise InvalidBatch(
                f"entry {record.seq} is outside the batch {uplink.from_seq}..{uplink.to_seq}"
            )
        if record.seq in seen:
            raise InvalidBatch(f"entry {record.seq} appears twice")
        seen.add(record.seq)
        if record.kind == EventKind.ATTEMPT and record.reason is None:
            raise InvalidBatch(f"attempt {record.seq} has no reason")
        if not record.kind or len(record.kind) > EVENT_KIND_LENGTH:
            raise InvalidBatch(f"entry {record.seq} has an unusable kind")
        if record.credential_id is not None and len(record.credential_id) > CREDENTIAL_ID_LENGTH:
            raise InvalidBatch(f"entry {record.seq} has an over-long credential id")
        try:
            from_epoch_ms(record.occurred_at)
        except OverflowError:
            raise InvalidBatch(f"entry {record.seq} has an impossible time") from None
    for photo in uplink.photos:
        if not photo.photo_id or len(photo.photo_id) > LOCK_PHOTO_ID_LENGTH:
            raise InvalidBatch(f"photo of entry {photo.seq} has an unusable id")
    if uplink.status.journal_floor < 0:
        raise InvalidBatch("the journal floor is negative")
    if len(uplink.nonce) != UPLINK_NONCE_BYTES:
        raise InvalidBatch(f"the uplink's nonce is not {UPLINK_NONCE_BYTES} bytes")


def _apply_status(device: Device, uplink: Uplink, now: datetime) -> None:
    """Record the lock's status, unless a newer uplink's status is already recorded.

    The lock's clock orders uplinks: a replayed or delayed older frame leaves the newer status.
    Clock drift is the lock's send time minus the server's time, in seconds; a frame relayed
    late by a phone therefore shows as the lock running behind.
    """
    if device.last_uplink_sent_ms is not None and uplink.sent_at <= device.last_uplink_sent_ms:
        return
    status = uplink.status
    device.last_uplink_sent_ms = uplink.sent_at
    device.last_sync_at = now
    device.applied_access_list_version = max(status.access_list_version, 0)
    device.firmware_version = max(status.firmware_version, 0)
    device.battery_pct = min(max(status.battery_pct, 0), MAX_BATTERY_PCT)
    device.clock_drift_s = uplink.sent_at / 1000 - now.timestamp()
    device.near_field_url = _near_field_url(status.near_field_url)


def _near_field_url(url: str | None) -> str | None:
    """The lock's near-field URL if it is a plain http(s) URL of sensible length, else None."""
    if url is None or len(url) > NEAR_FIELD_URL_MAX or not url.startswith(("http://", "https://")):
        return None
    return url
