"""COSE_Sign1 (RFC 9052) signing and strict verification with EdDSA, through `cwt`.

Verification accepts only the exact deterministic encoding we produce, with alg and kid in
the protected header and an empty unprotected header, so a valid message has one byte form.
"""

from __future__ import annotations

import hmac
from typing import Any

import cbor2
from cwt import COSE

from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.keys import COSE_ALG_EDDSA, KEY_ID_BYTES, SigningKeyPair, VerifyKey

SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
SIGNATURE1_CONTEXT = "Signature1"

_COSE = COSE.new(deterministic_header=True)


def sign1(
    payload: bytes,
    signer: SigningKeyPair,
    external_aad: bytes,
    extra_protected: dict[int, Any] | None = None,
) -> bytes:
    """A COSE_Sign1 message over payload, bound to external_aad (not carried in the message)."""
    protected: dict[int, Any] = {HEADER_ALG: COSE_ALG_EDDSA, HEADER_KID: signer.kid}
    protected.update(extra_protected or {})
    message: bytes = _COSE.encode_and_sign(
        payload, signer.cose_key(), protected=protected, unprotected={}, external_aad=external_aad
    )
    return message


def verify_sign1(
    message: bytes, verifier: VerifyKey, external_aad: bytes
) -> tuple[dict[Any, Any], bytes]:
    """The protected header and payload of a message signed by verifier, else InvalidSignature.

    The signature is checked over the RFC 9052 Sig_structure built from the message's own
    protected bytes, so what is verified is exactly what cwt signed; parsing it here once
    saves a second decode on the unlock path.
    """
    protected_bytes, payload, signature = parse_sign1(message)
    if protected_bytes == _PLAIN_PROTECTED_HEAD + verifier.kid:
        # The header we write when nothing extra is protected: no need to decode it.
        protected: Any = {HEADER_ALG: COSE_ALG_EDDSA, HEADER_KID: verifier.kid}
    else:
        try:
            protected = cbor2.loads(protected_bytes)
        except Exception:
            raise InvalidSignature("protected header is not CBOR") from None
    if not isinstance(protected, dict) or protected.get(HEADER_ALG) != COSE_ALG_EDDSA:
        raise InvalidSignature("unexpected algorithm")
    kid = protected.get(HEADER_KID)
    if not isinstance(kid, bytes) or not hmac.compare_digest(kid, verifier.kid):
        raise InvalidSignature("unexpected key id")
    verifier.verify(signature, sig_structure(protected_bytes, external_aad, payload))
    return protected, payload


# The one byte form we accept (RFC 8949 section 4.2.1 deterministic encoding): tag 18, a
# definite array of four, then bstr, the empty map, bstr, bstr, and nothing after. Reading
# these few fixed items by hand replaces a full CBOR decode and re-encode on every unlock.
# The protected header sign1() writes with no extras, {alg: EdDSA, kid: ...}, up to the kid.
_PLAIN_PROTECTED = {HEADER_ALG: COSE_ALG_EDDSA, HEADER_KID: bytes(KEY_ID_BYTES)}
_PLAIN_PROTECTED_HEAD = cbor2.dumps(_PLAIN_PROTECTED)[:-KEY_ID_BYTES]
_SIGN1_HEAD = bytes([0xC0 | SIGN1_TAG, 0x84])
_EMPTY_MAP = 0xA0
_INDEFINITE_ARRAY = b"\x9f"
_BSTR = 0x40
# Additional-information values 24..27 give the length in 1, 2, 4 or 8 following bytes.
_LENGTH_BYTES = {24: 1, 25: 2, 26: 4, 27: 8}


def parse_sign1(message: bytes) -> tuple[bytes, bytes, bytes]:
    """Protected header bytes, payload and signature of a Sign1 message in our one byte form.

    Raises InvalidSignature for anything else: another shape, an unprotected header, an
    indefinite or non-shortest length, or trailing bytes.
    """
    if not isinstance(message, bytes):
        raise InvalidSignature("a signed message is bytes")
    if not message.startswith(_SIGN1_HEAD):
        if message[:1] == _SIGN1_HEAD[:1] and message[1:2] == _INDEFINITE_ARRAY:
            raise InvalidSignature("not the deterministic encoding: indefinite length")
        raise InvalidSignature("not a COSE_Sign1 message in the expected shape")
    protected, at = _read_bstr(message, len(_SIGN1_HEAD))
    if at >= len(message) or message[at] != _EMPTY_MAP:
        raise InvalidSignature("not a COSE_Sign1 message in the expected shape")
    payload, at = _read_bstr(message, at + 1)
    signature, at = _read_bstr(message, at)
    if at != len(message):
        raise InvalidSignature("not the deterministic encoding: trailing bytes")
    return protected, payload, signature


def sig_structure(protected: bytes, external_aad: bytes, payload: bytes) -> bytes:
    """The RFC 9052 Sig_structure for COSE_Sign1, deterministically encoded."""
    return b"".join(
        (
            _SIG_STRUCTURE_HEAD,
            _bstr_head(len(protected)),
            protected,
            _bstr_head(len(external_aad)),
            external_aad,
            _bstr_head(len(payload)),
            payload,
        )
    )


_SIG_STRUCTURE_HEAD = (
    b"\x84" + bytes([0x60 | len(SIGNATURE1_CONTEXT)]) + SIGNATURE1_CONTEXT.encode()
)


def _bstr_head(length: int) -> bytes:
    if length < 24:
        return bytes([_BSTR | length])
    for info, size in _LENGTH_BYTES.items():
        if length < 1 << (8 * size):
            return bytes([_BSTR | info]) + length.to_bytes(size, "big")
    raise ValueError("byte string too long for CBOR")


def _read_bstr(message: bytes, at: int) -> tuple[bytes, int]:
    """The byte string starting at `at` and the offset after it; shortest lengths only."""
    if at >= len(message) or message[at] >> 5 != _BSTR >> 5:
        raise InvalidSignature("not a COSE_Sign1 message in the expected shape")
    info = message[at] & 0x1F
    at += 1
    if info < 24:
        length = info
    elif info in _LENGTH_BYTES:
        size = _LENGTH_BYTES[info]
        length = int.from_bytes(message[at : at + size], "big")
        shortest = 24 if size == 1 else 1 << (8 * size // 2)
        if at + size > len(message) or length < shortest:
            raise InvalidSignature("not the deterministic encoding: length is not shortest")
        at += size
    else:
        raise InvalidSignature("not the deterministic encoding: indefinite length")
    end = at + length
    if end > len(message):
        raise InvalidSignature("not a COSE_Sign1 message: truncated")
    return message[at:end], end
