"""The hand-read COSE_Sign1 byte form agrees with a full CBOR decode and re-encode.

`parse_sign1` replaces cbor2's loads-then-dumps check on the unlock path, so it must
accept exactly the messages that check accepts and read the same three byte strings.
"""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.crypto._sign1 import parse_sign1, sig_structure
from keyturn.crypto.errors import InvalidSignature

# Lengths at each boundary of CBOR's length encodings, plus anything small.
boundary_lengths = st.sampled_from([0, 1, 23, 24, 25, 255, 256, 257, 65535, 65536])
byte_strings = st.one_of(
    st.binary(max_size=80), boundary_lengths.flatmap(lambda n: st.binary(min_size=n, max_size=n))
)


def reference_parse(message: bytes) -> tuple[bytes, bytes, bytes] | None:
    """What the full decode accepts: tag 18 over [bstr, {}, bstr, bstr], canonically encoded."""
    try:
        tag = cbor2.loads(message)
        canonical = cbor2.dumps(tag)
    except Exception:
        return None
    well_shaped = (
        isinstance(tag, cbor2.CBORTag)
        and tag.tag == 18
        and isinstance(tag.value, list)
        and len(tag.value) == 4
        and tag.value[1] == {}
        and all(isinstance(tag.value[i], bytes) for i in (0, 2, 3))
    )
    if not well_shaped or canonical != message:
        return None
    return tag.value[0], tag.value[2], tag.value[3]


def ours(message: bytes) -> tuple[bytes, bytes, bytes] | None:
    try:
        return parse_sign1(message)
    except InvalidSignature:
        return None


@given(byte_strings, byte_strings, byte_strings)
def test_well_formed_messages_read_back(protected: bytes, payload: bytes, signature: bytes) -> None:
    message = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
    assert parse_sign1(message) == (protected, payload, signature)


@given(byte_strings, byte_strings, st.binary(max_size=40))
def test_sig_structure_is_the_cbor_encoding(protected: bytes, payload: bytes, aad: bytes) -> None:
    assert sig_structure(protected, aad, payload) == cbor2.dumps(
        ["Signature1", protected, aad, payload]
    )


@given(
    st.binary(max_size=30),
    st.binary(max_size=30),
    st.binary(max_size=70),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=3),
    st.integers(0, 3),
    st.binary(max_size=3),
)
def test_mutated_messages_agree_with_full_decode(
    protected: bytes,
    payload: bytes,
    signature: bytes,
    edits: list[tuple[int, int]],
    cut: int,
    tail: bytes,
) -> None:
    message = bytearray(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature])))
    for position, value in edits:
        message[position % len(message)] = value
    mutated = bytes(message[: len(message) - cut]) + tail
    assert ours(mutated) == reference_parse(mutated)


@pytest.mark.parametrize(
    "message",
    [
        # A one-byte length where the short form fits.
        bytes([0xD2, 0x84, 0x58, 0x01, 0xA0, 0xA0, 0x40, 0x40]),
        # An indefinite-length byte string.
        bytes([0xD2, 0x84, 0x5F, 0x41, 0x00, 0xFF, 0xA0, 0x40, 0x40]),
        # An unprotected header that is not empty.
        bytes([0xD2, 0x84, 0x40, 0xA1, 0x04, 0x40, 0x40, 0x40]),
        # Trailing bytes after the message.
        bytes([0xD2, 0x84, 0x40, 0xA0, 0x40, 0x40, 0x00]),
        # Untagged.
        bytes([0x84, 0x40, 0xA0, 0x40, 0x40]),
    ],
)
def test_other_byte_forms_are_refused(message: bytes) -> None:
    assert reference_parse(message) is None
    with pytest.raises(InvalidSignature):
        parse_sign1(message)
