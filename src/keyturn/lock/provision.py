"""Provisioning: the lock makes its own key pair, then stores the door configuration the
cloud returns for it, with every secret sealed under the device storage key.

Against a cloud this is one request, POST {cloud}/api/v1/devices/provision with the JSON
body {"token", "public_key" (raw Ed25519 key, base64url), "model" (optional: the token names
the model, and the cloud refuses one that differs)}; the body of the reply
(201 Created) is the msgpack DoorConfig.
"""

from __future__ import annotations

import base64
from pathlib import Path

import msgspec

from keyturn.crypto.errors import SealError
from keyturn.crypto.keys import SigningKeyPair, VerifyKey
from keyturn.crypto.sealed import seal, unseal
from keyturn.lock.config import STORE_FILE, load_or_create_storage_key
from keyturn.lock.errors import AlreadyProvisioned, LockError, NotProvisioned, TransportError
from keyturn.lock.store import Store
from keyturn.protocol.messages import DoorConfig

DEVICE_KEY = "device_key"
DOOR_CONFIG = "door_config"
PROVISION_PATH = "/api/v1/devices/provision"
_DEVICE_KEY_CONTEXT = b"keyturn/lock/device-key"
_DOOR_CONFIG_CONTEXT = b"keyturn/lock/door-config"


def create_identity(data_dir: Path) -> VerifyKey:
    """The lock's public key, generating its key pair (and storage key) on first call."""
    storage_key = load_or_create_storage_key(data_dir)
    store = Store(data_dir / STORE_FILE)
    try:
        existing = store.get(DEVICE_KEY, bytes, b"")
        if existing:
            return read_device_key(store, storage_key).public
        key = SigningKeyPair.generate()
        store.put(DEVICE_KEY, seal(storage_key, key.private_bytes(), _DEVICE_KEY_CONTEXT))
        return key.public
    finally:
        store.close()


def install_config(data_dir: Path, config: DoorConfig) -> None:
    """Store the door configuration once; a lock stays bound to its first door."""
    storage_key = load_or_create_storage_key(data_dir)
    store = Store(data_dir / STORE_FILE)
    try:
        if not store.get(DEVICE_KEY, bytes, b""):
            raise NotProvisioned("create the lock's identity before installing a door config")
        if store.get(DOOR_CONFIG, bytes, b""):
            raise AlreadyProvisioned(f"{data_dir} is already provisioned")
        encoded = msgspec.msgpack.encode(config)
        store.put(DOOR_CONFIG, seal(storage_key, encoded, _DOOR_CONFIG_CONTEXT))
    finally:
        store.close()


def read_device_key(store: Store, storage_key: bytes) -> SigningKeyPair:
    sealed = store.get(DEVICE_KEY, bytes, b"")
    if not sealed:
        raise NotProvisioned("this lock has no key pair yet")
    try:
        return SigningKeyPair.from_private_bytes(unseal(storage_key, sealed, _DEVICE_KEY_CONTEXT))
    except SealError:
        raise LockError("the device key does not open with this storage key") from None


def read_config(store: Store, storage_key: bytes) -> DoorConfig:
    sealed = store.get(DOOR_CONFIG, bytes, b"")
    if not sealed:
        raise NotProvisioned("this lock has no door configuration; provision it first")
    try:
        encoded = unseal(storage_key, sealed, _DOOR_CONFIG_CONTEXT)
    except SealError:
        raise LockError("the door configuration does not open with this storage key") from None
    return msgspec.msgpack.decode(encoded, type=DoorConfig)


def provision_with_cloud(
    data_dir: Path, cloud_url: str, token: str, model: str | None = None
) -> DoorConfig:
    """Create the identity, ask the cloud for this lock's door config, and install it.

    Without `model` the cloud takes the model the token was issued for."""
    import httpx

    public = create_identity(data_dir)
    encoded_key = base64.urlsafe_b64encode(public.public_bytes()).decode().rstrip("=")
    body = {"token": token, "public_key": encoded_key}
    if model is not None:
        body["model"] = model
    try:
        response = httpx.post(cloud_url.rstrip("/") + PROVISION_PATH, json=body, timeout=30.0)
    except httpx.HTTPError as exc:
        raise TransportError(f"provisioning request failed: {exc}") from None
    if response.status_code not in (200, 201):
        raise TransportError(f"provisioning refused: HTTP {response.status_code} {response.text}")
    try:
        config = msgspec.msgpack.decode(response.content, type=DoorConfig)
    except msgspec.DecodeError as exc:
        raise TransportError(f"provisioning reply is not a DoorConfig: {exc}") from None
    install_config(data_dir, config)
    return config
