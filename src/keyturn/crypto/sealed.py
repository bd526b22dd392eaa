"""Secrets sealed under the master key, and photos encrypted under their own data keys.

Both use AES-256-GCM with a random nonce and bind the caller's context (such as
b"door-secret:" + door id) as associated data, so a blob moved to another row fails to open.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyturn.crypto.errors import SealError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
# Layout: version (1 byte) | nonce (12) | ciphertext with GCM tag (16 more).
FORMAT_VERSION = b"\x01"
HEADER_BYTES = len(FORMAT_VERSION) + NONCE_BYTES
# The purpose label is part of the associated data, so a sealed secret and a photo blob
# can never stand in for each other even under the same key.
SEALED_SECRET_LABEL = b"keyturn/sealed-secret\x00"
DATA_BLOB_LABEL = b"keyturn/data-blob\x00"


def seal(master_key: bytes, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt a secret under the 32-byte master key, bound to context."""
    return _encrypt(master_key, plaintext, SEALED_SECRET_LABEL + context)


def unseal(master_key: bytes, sealed: bytes, context: bytes) -> bytes:
    """The secret sealed under master_key for context; SealError if anything differs."""
    return _decrypt(master_key, sealed, SEALED_SECRET_LABEL + context)


def new_data_key() -> bytes:
    """A fresh 32-byte key for one blob; store it only sealed, and erase it to erase the blob."""
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def encrypt_blob(data_key: bytes, data: bytes, context: bytes) -> bytes:
    """Encrypt a blob (a photo) under its own data key, bound to context."""
    return _encrypt(data_key, data, DATA_BLOB_LABEL + context)


def decrypt_blob(data_key: bytes, blob: bytes, context: bytes) -> bytes:
    """The blob encrypted under data_key for context; SealError if anything differs."""
    return _decrypt(data_key, blob, DATA_BLOB_LABEL + context)


def _encrypt(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    cipher = _cipher(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = cipher.encrypt(nonce, plaintext, FORMAT_VERSION + associated)
    return FORMAT_VERSION + nonce + body


def _decrypt(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    cipher = _cipher(key)
    if not isinstance(sealed, bytes) or len(sealed) < HEADER_BYTES + TAG_BYTES:
        raise SealError("sealed data is too short")
    if sealed[:1] != FORMAT_VERSION:
        raise SealError("unknown sealed-data version")
    nonce = sealed[1:HEADER_BYTES]
    try:
        return cipher.decrypt(nonce, sealed[HEADER_BYTES:], FORMAT_VERSION + associated)
    except InvalidTag:
        raise SealError("sealed data does not open with this key and context") from None


def _cipher(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"an AES-256 key is {KEY_BYTES} bytes")
    return AESGCM(key)
