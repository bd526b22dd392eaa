from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.crypto.errors import SealError
from keyturn.crypto.sealed import (
    decrypt_blob,
    encrypt_blob,
    new_data_key,
    seal,
    unseal,
)

MASTER = bytes(range(32))
CONTEXT = b"door-secret:door-1"

# Sealed once with the current format; a format change must keep these opening.
SEALED_VECTOR = bytes.fromhex(
    "01c535c8aaaa5314668b087dc8de90dbe13b8b5ba3660ceb401a15125db77ae473f752eea4b27b9d39991edf43a1"
)
BLOB_VECTOR = bytes.fromhex("01c1fc0deb4c76255b595caa607405c706aa27b4c81c50f27312a2d8da1a0137df")


def test_stable_vectors_still_open() -> None:
    assert unseal(MASTER, SEALED_VECTOR, CONTEXT) == b"door secret bytes"
    assert decrypt_blob(bytes(32), BLOB_VECTOR, b"photo:p1") == b"jpeg"


def test_layout_is_version_nonce_ciphertext_tag() -> None:
    sealed = seal(MASTER, b"abc", CONTEXT)
    assert sealed[0] == 1
    assert len(sealed) == 1 + 12 + 3 + 16


def test_nonces_are_fresh() -> None:
    assert seal(MASTER, b"abc", CONTEXT) != seal(MASTER, b"abc", CONTEXT)


def test_wrong_key_fails() -> None:
    with pytest.raises(SealError):
        unseal(bytes(32), seal(MASTER, b"abc", CONTEXT), CONTEXT)


def test_wrong_context_fails() -> None:
    sealed = seal(MASTER, b"abc", CONTEXT)
    with pytest.raises(SealError):
        unseal(MASTER, sealed, b"door-secret:door-2")
    with pytest.raises(SealError):
        unseal(MASTER, sealed, b"")


def test_every_flipped_byte_fails() -> None:
    sealed = seal(MASTER, b"a door secret", CONTEXT)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x80
        with pytest.raises(SealError):
            unseal(MASTER, bytes(tampered), CONTEXT)


def test_every_truncation_and_an_extension_fail() -> None:
    sealed = seal(MASTER, b"a door secret", CONTEXT)
    for length in range(len(sealed)):
        with pytest.raises(SealError):
            unseal(MASTER, sealed[:length], CONTEXT)
    with pytest.raises(SealError):
        unseal(MASTER, sealed + b"\x00", CONTEXT)


def test_unknown_version_fails() -> None:
    sealed = seal(MASTER, b"abc", CONTEXT)
    with pytest.raises(SealError, match="version"):
        unseal(MASTER, b"\x02" + sealed[1:], CONTEXT)


@pytest.mark.parametrize("key", [b"", b"\x00" * 16, b"\x00" * 31])
def test_wrong_length_keys_are_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(key, b"abc", CONTEXT)
    with pytest.raises(ValueError, match="32 bytes"):
        unseal(key, SEALED_VECTOR, CONTEXT)


def test_a_sealed_secret_is_not_a_blob_and_back() -> None:
    key = new_data_key()
    with pytest.raises(SealError):
        decrypt_blob(key, seal(key, b"abc", CONTEXT), CONTEXT)
    with pytest.raises(SealError):
        unseal(key, encrypt_blob(key, b"abc", CONTEXT), CONTEXT)


def test_crypto_shredding_flow() -> None:
    photo = b"\xff\xd8 not really a jpeg"
    data_key = new_data_key()
    blob = encrypt_blob(data_key, photo, b"photo:p1")
    stored_key = seal(MASTER, data_key, b"photo-key:p1")
    assert photo not in blob
    assert decrypt_blob(unseal(MASTER, stored_key, b"photo-key:p1"), blob, b"photo:p1") == photo
    # Once the sealed key row is gone, only a guess of a fresh key is left, and it fails.
    with pytest.raises(SealError):
        decrypt_blob(new_data_key(), blob, b"photo:p1")
    with pytest.raises(SealError):
        decrypt_blob(data_key, blob, b"photo:p2")


def test_data_keys_are_fresh_32_bytes() -> None:
    assert len(new_data_key()) == 32
    assert new_data_key() != new_data_key()


@given(st.binary(max_size=512), st.binary(max_size=64))
def test_seal_round_trip(plaintext: bytes, context: bytes) -> None:
    assert unseal(MASTER, seal(MASTER, plaintext, context), context) == plaintext


@given(st.binary(max_size=512), st.binary(max_size=64))
def test_blob_round_trip(data: bytes, context: bytes) -> None:
    key = new_data_key()
    assert decrypt_blob(key, encrypt_blob(key, data, context), context) == data


@given(st.binary(max_size=100))
def test_garbage_fails_cleanly(garbage: bytes) -> None:
    with pytest.raises(SealError):
        unseal(MASTER, garbage, CONTEXT)
