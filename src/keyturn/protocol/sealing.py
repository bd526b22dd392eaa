"""Sealing protocol messages: sign with the sender's key, then encrypt under the sync key.

The outer frame names only the protocol version and the device, so any carrier can route it;
what is inside can be neither read nor changed by the carrier.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from keyturn.crypto.envelopes import open_signed, seal_signed
from keyturn.crypto.errors import CryptoError
from keyturn.crypto.keys import SigningKeyPair, VerifyKey
from keyturn.crypto.sealed import decrypt_blob, encrypt_blob
from keyturn.protocol.messages import PROTOCOL_VERSION, Downlink, FirmwareManifest, Uplink

M = TypeVar("M", Downlink, Uplink, FirmwareManifest)

_CONTENT_TYPES: dict[type[msgspec.Struct], str] = {
    Downlink: f"application/keyturn.downlink+msgpack;v={PROTOCOL_VERSION}",
    Uplink: f"application/keyturn.uplink+msgpack;v={PROTOCOL_VERSION}",
    FirmwareManifest: f"application/keyturn.firmware+msgpack;v={PROTOCOL_VERSION}",
}


class ProtocolError(Exception):
    """A frame or message that is malformed, of another version, or fails its checks."""


class Frame(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    version: int
    device_id: str
    direction: str  # "down" or "up"
    sealed: bytes


_frame_decoder = msgspec.msgpack.Decoder(Frame)
_encoder = msgspec.msgpack.Encoder()


def _context(direction: str, device_id: str) -> bytes:
    return f"keyturn/sync/{direction}/{device_id}".encode()


def seal(message: M, signer: SigningKeyPair, sync_key: bytes, device_id: str) -> bytes:
    """Sign `message` with `signer`, encrypt it for the device's sync key, and frame it."""
    direction = "up" if isinstance(message, Uplink) else "down"
    signed = seal_signed(_encoder.encode(message), signer, _CONTENT_TYPES[type(message)])
    sealed = encrypt_blob(sync_key, signed, _context(direction, device_id))
    return _encoder.encode(Frame(PROTOCOL_VERSION, device_id, direction, sealed))


def peek_device(frame: bytes) -> str:
    """The device a frame is for or from, read before anything is trusted."""
    return _read_frame(frame).device_id


def open_sealed(
    frame: bytes, kind: type[M], verifier: VerifyKey, sync_key: bytes, device_id: str
) -> M:
    """Decrypt, verify and decode a frame; any failure is a ProtocolError and nothing else."""
    outer = _read_frame(frame)
    direction = "up" if kind is Uplink else "down"
    if outer.device_id != device_id or outer.direction != direction:
        raise ProtocolError("frame is for another device or direction")
    try:
        signed = decrypt_blob(sync_key, outer.sealed, _context(direction, device_id))
        payload = open_signed(signed, verifier, _CONTENT_TYPES[kind])
    except CryptoError as exc:
        raise ProtocolError(f"frame failed its checks: {type(exc).__name__}") from None
    try:
        message = msgspec.msgpack.decode(payload, type=kind)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"malformed {kind.__name__}: {exc}") from None
    if getattr(message, "device_id", device_id) != device_id:
        raise ProtocolError("message names another device")
    return message


def sign_manifest(manifest: FirmwareManifest, authority: SigningKeyPair) -> bytes:
    """A firmware manifest signed on its own, so it can be checked apart from any sync."""
    return seal_signed(_encoder.encode(manifest), authority, _CONTENT_TYPES[FirmwareManifest])


def open_manifest(signed: bytes, authority: VerifyKey) -> FirmwareManifest:
    try:
        payload = open_signed(signed, authority, _CONTENT_TYPES[FirmwareManifest])
        return msgspec.msgpack.decode(payload, type=FirmwareManifest)
    except (CryptoError, msgspec.DecodeError) as exc:
        raise ProtocolError(f"firmware manifest rejected: {type(exc).__name__}") from None


def _read_frame(frame: bytes) -> Frame:
    try:
        outer = _frame_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not a Keyturn frame: {exc}") from None
    if outer.version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {outer.version} is not supported")
    return outer
