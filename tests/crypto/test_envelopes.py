from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.crypto._sign1 import sign1
from keyturn.crypto.envelopes import ENVELOPE_AAD, open_signed, seal_signed
from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import MOBILE_KEY_AAD

SIGNER = SigningKeyPair.generate()
CONTENT_TYPE = "application/keyturn-access-list"


def _sealed() -> bytes:
    return seal_signed(b"access list v42", SIGNER, CONTENT_TYPE)


def test_round_trip() -> None:
    assert open_signed(_sealed(), SIGNER.public) == b"access list v42"
    assert open_signed(_sealed(), SIGNER.public, CONTENT_TYPE) == b"access list v42"


def test_round_trip_without_content_type() -> None:
    assert open_signed(seal_signed(b"", SIGNER), SIGNER.public) == b""


def test_kid_alg_and_content_type_are_in_the_protected_header() -> None:
    tag = cbor2.loads(_sealed())
    assert tag.tag == 18
    protected, unprotected, payload, signature = tag.value
    assert cbor2.loads(protected) == {1: -8, 3: CONTENT_TYPE, 4: SIGNER.kid}
    assert unprotected == {}
    assert payload == b"access list v42"
    assert len(signature) == 64


def test_every_flipped_byte_fails() -> None:
    message = _sealed()
    for index in range(len(message)):
        tampered = bytearray(message)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidSignature):
            open_signed(bytes(tampered), SIGNER.public)


def test_every_truncation_and_an_extension_fail() -> None:
    message = _sealed()
    for length in range(len(message)):
        with pytest.raises(InvalidSignature):
            open_signed(message[:length], SIGNER.public)
    with pytest.raises(InvalidSignature):
        open_signed(message + b"\x00", SIGNER.public)


def test_wrong_key_fails() -> None:
    with pytest.raises(InvalidSignature):
        open_signed(_sealed(), SigningKeyPair.generate().public)


def test_wrong_content_type_fails() -> None:
    with pytest.raises(InvalidSignature, match="content type"):
        open_signed(_sealed(), SIGNER.public, "application/keyturn-firmware")
    with pytest.raises(InvalidSignature, match="content type"):
        open_signed(seal_signed(b"x", SIGNER), SIGNER.public, CONTENT_TYPE)


def test_added_unprotected_header_fails() -> None:
    tag = cbor2.loads(_sealed())
    tag.value[1] = {4: SIGNER.kid}
    with pytest.raises(InvalidSignature):
        open_signed(cbor2.dumps(tag), SIGNER.public)


def test_non_deterministic_encoding_fails() -> None:
    message = _sealed()
    assert message[1] == 0x84  # tag 18, then a definite array of four
    indefinite = message[:1] + b"\x9f" + message[2:] + b"\xff"
    assert cbor2.loads(indefinite).value == cbor2.loads(message).value
    with pytest.raises(InvalidSignature, match="deterministic"):
        open_signed(indefinite, SIGNER.public)


def _hand_signed(protected: dict[int, object]) -> bytes:
    """A Sign1 message built by hand, correctly signed by SIGNER over any protected header."""
    header = cbor2.dumps(protected)
    to_sign = cbor2.dumps(["Signature1", header, ENVELOPE_AAD, b"payload"])
    return cbor2.dumps(cbor2.CBORTag(18, [header, {}, b"payload", SIGNER.sign(to_sign)]))


def test_hand_built_message_matches_ours() -> None:
    assert open_signed(_hand_signed({1: -8, 4: SIGNER.kid}), SIGNER.public) == b"payload"


@pytest.mark.parametrize(
    "protected",
    [
        {1: -7, 4: SIGNER.kid},
        {4: SIGNER.kid},
        {1: -8},
        {1: -8, 4: SigningKeyPair.generate().kid},
        {1: -8, 4: SIGNER.key_id},
    ],
)
def test_signed_messages_with_wrong_alg_or_kid_fail(protected: dict[int, object]) -> None:
    with pytest.raises(InvalidSignature):
        open_signed(_hand_signed(protected), SIGNER.public)


def test_a_mobile_key_signature_is_not_an_envelope() -> None:
    other_purpose = sign1(b"access list v42", SIGNER, MOBILE_KEY_AAD)
    assert open_signed(sign1(b"access list v42", SIGNER, ENVELOPE_AAD), SIGNER.public)
    with pytest.raises(InvalidSignature):
        open_signed(other_purpose, SIGNER.public)


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00", b"\xd2", b"\xd2\x84", cbor2.dumps([1, 2, 3]), cbor2.dumps({4: 1}), "text"],
)
def test_known_garbage_fails_cleanly(garbage: bytes | str) -> None:
    with pytest.raises(InvalidSignature):
        open_signed(garbage, SIGNER.public)


@given(st.binary(max_size=300))
def test_random_bytes_fail_cleanly(garbage: bytes) -> None:
    with pytest.raises(InvalidSignature):
        open_signed(garbage, SIGNER.public)


@given(st.binary(max_size=200), st.none() | st.text(max_size=40))
def test_round_trip_any_payload(payload: bytes, content_type: str | None) -> None:
    message = seal_signed(payload, SIGNER, content_type)
    assert open_signed(message, SIGNER.public, content_type) == payload
