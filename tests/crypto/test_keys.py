from __future__ import annotations

import hashlib

import pytest

from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.keys import SigningKeyPair, VerifyKey

# RFC 8032 section 7.1, test 1.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_vector() -> None:
    pair = SigningKeyPair.from_private_bytes(RFC8032_SECRET)
    assert pair.public_bytes() == RFC8032_PUBLIC
    assert pair.sign(b"") == RFC8032_SIGNATURE
    VerifyKey.from_bytes(RFC8032_PUBLIC).verify(RFC8032_SIGNATURE, b"")


def test_key_id_is_stable_and_derived_from_the_public_key() -> None:
    pair = SigningKeyPair.from_private_bytes(RFC8032_SECRET)
    assert pair.key_id == "21fe31dfa154a261626bf854046fd227"
    assert pair.key_id == hashlib.sha256(RFC8032_PUBLIC).digest()[:16].hex()
    assert pair.kid == bytes.fromhex(pair.key_id)
    assert VerifyKey.from_bytes(RFC8032_PUBLIC).key_id == pair.key_id


def test_private_bytes_round_trip() -> None:
    pair = SigningKeyPair.generate()
    again = SigningKeyPair.from_private_bytes(pair.private_bytes())
    assert len(pair.private_bytes()) == 32
    assert len(pair.public_bytes()) == 32
    assert again.public_bytes() == pair.public_bytes()
    assert again.key_id == pair.key_id


def test_generated_keys_differ() -> None:
    assert SigningKeyPair.generate().public_bytes() != SigningKeyPair.generate().public_bytes()


def test_repr_never_shows_the_private_key() -> None:
    pair = SigningKeyPair.generate()
    text = repr(pair) + str(pair)
    assert pair.private_bytes().hex() not in text
    assert pair.key_id in text


def test_sign_and_verify() -> None:
    pair = SigningKeyPair.generate()
    signature = pair.sign(b"open door 7")
    pair.public.verify(signature, b"open door 7")
    with pytest.raises(InvalidSignature):
        pair.public.verify(signature, b"open door 8")


def test_wrong_key_fails() -> None:
    signature = SigningKeyPair.generate().sign(b"data")
    with pytest.raises(InvalidSignature):
        SigningKeyPair.generate().public.verify(signature, b"data")


@pytest.mark.parametrize("signature", [b"", b"\x00" * 63, b"\x00" * 64, b"\xff" * 65])
def test_garbage_signature_fails_cleanly(signature: bytes) -> None:
    with pytest.raises(InvalidSignature):
        SigningKeyPair.generate().public.verify(signature, b"data")


@pytest.mark.parametrize("raw", [b"", b"\x01" * 31, b"\x01" * 33])
def test_wrong_length_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="32 raw bytes"):
        VerifyKey.from_bytes(raw)
    with pytest.raises(ValueError, match="32 raw bytes"):
        SigningKeyPair.from_private_bytes(raw)


def test_verify_keys_compare_by_public_key() -> None:
    pair = SigningKeyPair.generate()
    assert VerifyKey.from_bytes(pair.public_bytes()) == pair.public
    assert hash(VerifyKey.from_bytes(pair.public_bytes())) == hash(pair.public)
    assert SigningKeyPair.generate().public != pair.public
