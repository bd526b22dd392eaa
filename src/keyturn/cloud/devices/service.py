"""Lock models, enrolment tokens, provisioning, retirement, access-list versions and health.

A lock is enrolled with a one-time token bound to a door; the cloud keeps only the token's
hash, seals the lock's sync key under the master key, and publishes a new access-list
version for a door only when the list's content changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session, defer

from keyturn.cloud.access.access_lists import access_list_changes_at, build_access_list
from keyturn.cloud.access.revisions import REVISION_OF_SCOPES, door_revision, door_scopes
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.db import new_id
from keyturn.cloud.devices.errors import (
    DoorAlreadyBound,
    InvalidDeviceKey,
    InvalidProvisioningToken,
    ModelMismatch,
    UnknownDevice,
    UnknownDeviceModel,
    UnknownDoor,
)
from keyturn.cloud.history.ingestion import record_open_ended_gap
from keyturn.cloud.models import (
    AccessListVersion,
    Device,
    DeviceModel,
    Door,
    Property,
    ProvisioningToken,
)
from keyturn.cloud.properties.service import door_secret_of, in_property
from keyturn.cloud.properties.write_locks import lock_doors
from keyturn.crypto.keys import VerifyKey, cose_key_set
from keyturn.crypto.sealed import seal
from keyturn.protocol.access_lists import content_bytes, content_from_bytes, make_delta
from keyturn.protocol.messages import AccessList, DoorConfig, LockoutSpec
from keyturn.rules.types import Capability

TOKEN_LIFETIME = timedelta(hours=24)
TOKEN_BYTES = 32
SYNC_KEY_BYTES = 32
# Older versions keep their content this long (in versions) so a lagging lock gets a delta.
DELTA_BASES_KEPT = 16

BUILTIN_MODELS: dict[str, tuple[Capability, ...]] = {
    "keyturn-r1": (
        Capability.CAMERA,
        Capability.KEYPAD,
        Capability.CARD_READER,
        Capability.BLE,
        Capability.MECHANICAL_KEY,
    ),
    "keyturn-c2": (Capability.KEYPAD, Capability.CARD_READER, Capability.BLE),
    "keyturn-m": (
        Capability.CAMERA,
        Capability.KEYPAD,
        Capability.BLE,
        Capability.MECHANICAL_KEY,
    ),
    # A reader-only lock (phone and card, no keypad): no doorcode is ever issued at its door.
    "keyturn-b1": (Capability.CARD_READER, Capability.BLE),
}


def ensure_device_models(session: Session) -> dict[str, DeviceModel]:
    """Create the built-in lock models that are missing and return every model by name."""
    models = {model.name: model for model in session.scalars(select(DeviceModel))}
    for name, capabilities in BUILTIN_MODELS.items():
        if name not in models:
            models[name] = DeviceModel(name=name, capabilities=[c.value for c in capabilities])
            session.add(models[name])
    session.flush()
    return models


def sync_key_context(device_id: str) -> bytes:
    return f"sync-key:{device_id}".encode()


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def devices_at(*, property_id: str) -> Select[Device]:
    """The property's locks, retired ones included."""
    return select(Device).where(Device.property_id == property_id)


def door_provisioning_token(
    *, session: Session, property_id: str, door_id: str, model: str, now: datetime
) -> str:
    """`create_provisioning_token` for a door of this property (404 for another's)."""
    door = in_property(session, Door, door_id, property_id)
    return create_provisioning_token(session, door.id, model, now)


def create_provisioning_token(
    session: Session, door_id: str, model_name: str, now: datetime
) -> str:
    """A fresh one-time token that enrols one lock of `model_name` at the door for 24 hours.

    Only the token's SHA-256 is stored; the token itself is returned once, to be shown to
    the installer.
    """
    if session.get(Door, door_id) is None:
        raise UnknownDoor(f"no door {door_id}")
    model = ensure_device_models(session).get(model_name)
    if model is None:
        known = ", ".join(sorted(ensure_device_models(session)))
        raise UnknownDeviceModel(f"no lock model {model_name!r}; known models: {known}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        ProvisioningToken(
            token_hash=_token_hash(token),
            door_id=door_id,
            model_id=model.id,
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
    )
    session.flush()
    return token


def decode_public_key(text: str) -> bytes:
    """A lock's raw Ed25519 public key from base64url (padding optional)."""
    try:
        raw = base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
        return VerifyKey.from_bytes(raw).public_bytes()
    except (ValueError, binascii.Error):
        raise InvalidDeviceKey("public_key must be a 32-byte Ed25519 key in base64url") from None


def property_key_set(session: Session, property_id: str) -> bytes:
    """The property's authority public key as a CBOR COSE_KeySet (RFC 9052 section 7).

    The authority signs every mobile key and access list of the property, so this is what
    anyone needs to verify them. NotFound for an unknown property.
    """
    public = session.scalar(select(Property.authority_public_key).where(Property.id == property_id))
    if public is None:
        raise NotFound()
    return cose_key_set([VerifyKey.from_bytes(public)])


def provision_device(
    session: Session,
    master_key: bytes,
    token: str,
    public_key: bytes,
    model_name: str | None,
    now: datetime,
) -> DoorConfig:
    """Bind a new lock to the token's door and return the configuration it keeps for life.

    The token is spent in the same transaction; a token that is unknown, expired or spent
    raises InvalidProvisioningToken and changes nothing. A door whose lock is not retired
    refuses a second one; a retired lock is unbound from the door to make room. The token
    names the lock model; `model_name`, when given, must be that model (ModelMismatch).
    """
    found = session.scalars(
        select(ProvisioningToken).where(ProvisioningToken.token_hash == _token_hash(token))
    ).first()
    if (
        found is None
        or not hmac.compare_digest(found.token_hash, _token_hash(token))
        or found.used_at is not None
        or found.expires_at <= now
    ):
        raise InvalidProvisioningToken("the provisioning token is unknown, expired or used")
    model = session.get(DeviceModel, found.model_id)
    assert model is not None
    if model_name is not None and model.name != model_name:
        raise ModelMismatch(f"the token enrols a {model.name}, not a {model_name}")
    door = session.get(Door, found.door_id)
    assert door is not None
    bound = session.scalars(select(Device).where(Device.door_id == door.id)).first()
    if bound is not None and bound.retired_at is None:
        raise DoorAlreadyBound(f"lock {bound.id} is bound to door {door.id}")
    spent = session.execute(
        update(ProvisioningToken)
        .where(ProvisioningToken.id == found.id, ProvisioningToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidProvisioningToken("the provisioning token is unknown, expired or used")
    if bound is not None:
        bound.door_id = None
        session.flush()
    prop = session.get(Property, door.property_id)
    assert prop is not None
    device_id = new_id()
    sync_key = secrets.token_bytes(SYNC_KEY_BYTES)
    session.add(
        Device(
            id=device_id,
            property_id=prop.id,
            door_id=door.id,
            model_id=model.id,
            public_key=public_key,
            provisioned_at=now,
            sync_key_sealed=seal(master_key, sync_key, sync_key_context(device_id)),
        )
    )
    session.flush()
    found.device_id = device_id
    return DoorConfig(
        device_id=device_id,
        door_id=door.id,
        door_kind=door.kind,
        property_id=prop.id,
        time_zone=prop.time_zone,
        capabilities=tuple(Capability(item) for item in model.capabilities),
        code_length=prop.doorcode_length,
        lockout=LockoutSpec(
            max_failures=prop.lockout_max_failures,
            window_s=prop.lockout_window_s,
            first_cooldown_s=prop.lockout_first_cooldown_s,
            max_cooldown_s=prop.lockout_max_cooldown_s,
        ),
        authority_public_key=prop.authority_public_key,
        door_secret=door_secret_of(door, master_key),
        sync_key=sync_key,
    )


def retire_device(session: Session, device_id: str, now: datetime, reason: str) -> Device:
    """Retire a lock (broken, stolen, replaced): it may no longer sync, and whatever it never
    uploaded is recorded as an open-ended log gap after its highest stored entry.

    Retiring twice changes nothing the second time.
    """
    device = session.get(Device, device_id)
    if device is None:
        raise UnknownDevice(f"no lock {device_id}")
    if device.retired_at is not None:
        return device
    device.retired_at = now
    device.retired_reason = reason[:500]
    record_open_ended_gap(session, device, now, f"lock retired: {reason}"[:500])
    session.flush()
    return device


def retire_lock_at(
    *, session: Session, property_id: str, device_id: str, reason: str, now: datetime
) -> Device:
    """`retire_device` for a lock of this property (404 for another's)."""
    in_property(session, Device, device_id, property_id)
    return retire_device(session, device_id, now, reason)


def current_access_list(
    session: Session, master_key: bytes, door_id: str, now: datetime
) -> AccessList:
    """The door's full list with its version, publishing a new version if the content changed.

    Versions are published lazily (at a sync, or when health is asked with the master key):
    the content is hashed and compared with the newest version's hash, so unchanged content
    keeps its version and any change, whatever caused it, gets the next number.
    """
    latest, built = _current_version(session, master_key, door_id, now)
    return built if built is not None else _stored_list(latest, now)


def _current_version(
    session: Session, master_key: bytes, door_id: str, now: datetime
) -> tuple[AccessListVersion, AccessList | None]:
    """The door's newest version, made current first; with the list when it was rebuilt.

    The list is rebuilt only when the newest version may be out of date: the door's access
    revision moved since it was checked (a write to something it is built from), or `now`
    is outside [checked_at, changes_at), the span in which time alone cannot change it.
    """
    door = session.get(Door, door_id)
    if door is None:
        raise LookupError(f"no door {door_id}")
    params = {"door": door_id, "scopes": door_scopes(door_id, door.property_id)}
    # Read before the list's inputs, so a write committed meanwhile shows as a newer revision.
    newest = session.execute(_NEWEST_WITH_REVISION, params).first()
    if newest is not None and newest[2] and _still_current(newest[0], int(newest[1]), now):
        return newest[0], None
    # Publishers of this door go one at a time, each reading what the one before committed:
    # versions stay unique, and each one holds every change published before it.
    lock_doors(session, [door_id])
    newest = session.execute(
        _NEWEST_WITH_REVISION, params, execution_options={"populate_existing": True}
    ).first()
    if newest is None:
        latest, revision = None, door_revision(session, door_id, door.property_id)
    else:
        latest, revision = newest[0], int(newest[1])
        if newest[2] and _still_current(latest, revision, now):
            return latest, None
    full = build_access_list(session, master_key, door_id, now)
    changes_at = access_list_changes_at(session, door_id, now)
    content = content_bytes(full)
    digest = hashlib.sha256(content).digest()
    if latest is not None and latest.content_hash == digest and latest.content is not None:
        latest.built_revision, latest.checked_at, latest.changes_at = revision, now, changes_at
        return latest, msgspec.structs.replace(full, version=latest.version)
    version = (latest.version if latest is not None else 0) + 1
    published = AccessListVersion(
        door_id=door_id,
        version=version,
        content_hash=digest,
        content=content,
        created_at=now,
        built_revision=revision,
        checked_at=now,
        changes_at=changes_at,
    )
    session.add(published)
    session.execute(
        update(AccessListVersion)
        .where(
            AccessListVersion.door_id == door_id,
            AccessListVersion.version <= version - DELTA_BASES_KEPT,
            AccessListVersion.content.is_not(None),
        )
        .values(content=None)
    )
    session.flush()
    return published, msgspec.structs.replace(full, version=version)


# The content itself is loaded only when a lock needs it (see _stored_list).
_NEWEST_WITH_REVISION = (
    select(AccessListVersion, REVISION_OF_SCOPES, AccessListVersion.content.is_not(None))
    .options(defer(AccessListVersion.content))
    .where(AccessListVersion.door_id == bindparam("door"))
    .order_by(AccessListVersion.version.desc())
    .limit(1)
)


def _still_current(latest: AccessListVersion, revision: int, now: datetime) -> bool:
    return (
        latest.built_revision == revision
        and latest.checked_at is not None
        and latest.checked_at <= now
        and (latest.changes_at is None or now < latest.changes_at)
    )


def _stored_list(version: AccessListVersion, now: datetime) -> AccessList:
    """The full list a version holds, as build_access_list would return it at `now`."""
    assert version.content is not None
    return msgspec.structs.replace(
        content_from_bytes(version.content), version=version.version, issued_at=int(now.timestamp())
    )


def _latest_version(session: Session, door_id: str) -> AccessListVersion | None:
    return session.scalars(
        select(AccessListVersion)
        .where(AccessListVersion.door_id == door_id)
        .order_by(AccessListVersion.version.desc())
        .limit(1)
    ).first()


def access_list_update(
    session: Session, master_key: bytes, door_id: str, applied_version: int, now: datetime
) -> AccessList | None:
    """What a lock that applied `applied_version` needs: None when current, a delta when its
    version's content is still kept, else the full list."""
    latest, built = _current_version(session, master_key, door_id, now)
    if applied_version == latest.version:
        return None
    current = built if built is not None else _stored_list(latest, now)
    if 0 < applied_version < current.version:
        base = session.scalars(
            select(AccessListVersion.content).where(
                AccessListVersion.door_id == door_id,
                AccessListVersion.version == applied_version,
            )
        ).first()
        if base is not None:
            previous = msgspec.structs.replace(content_from_bytes(base), version=applied_version)
            return make_delta(previous, current)
    return current


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """How current and how well a lock is, as of `now`."""

    device_id: str
    door_id: str | None
    model: str
    retired: bool
    applied_access_list_version: int
    current_access_list_version: int
    versions_behind: int
    last_sync_at: datetime | None
    seconds_since_sync: float | None
    battery_pct: int | None
    firmware_version: int
    clock_drift_s: float | None
    stored_through_seq: int


def device_health(
    session: Session, device_id: str, now: datetime, *, master_key: bytes | None = None
) -> DeviceHealth:
    """The lock's applied access-list version against its door's current one, and its status.

    With the master key the door's list is rebuilt first, so a change not yet synced to any
    lock counts as a newer version; without it the newest published version is used.
    """
    device = session.get(Device, device_id)
    if device is None:
        raise UnknownDevice(f"no lock {device_id}")
    current = 0
    if device.door_id is not None:
        if master_key is not None and device.retired_at is None:
            current = _current_version(session, master_key, device.door_id, now)[0].version
        else:
            latest = _latest_version(session, device.door_id)
            current = latest.version if latest is not None else 0
    applied = device.applied_access_list_version
    return DeviceHealth(
        device_id=device.id,
        door_id=device.door_id,
        model=device.model.name,
        retired=device.retired_at is not None,
        applied_access_list_version=applied,
        current_access_list_version=current,
        versions_behind=max(current - applied, 0),
        last_sync_at=device.last_sync_at,
        seconds_since_sync=(
            (now - device.last_sync_at).total_seconds() if device.last_sync_at else None
        ),
        battery_pct=device.battery_pct,
        firmware_version=device.firmware_version,
        clock_drift_s=device.clock_drift_s,
        stored_through_seq=device.stored_through_seq,
    )
