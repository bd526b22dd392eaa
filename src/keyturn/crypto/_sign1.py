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
from keyturn.crypto.keys import COSE_ALG_EDDSA, SigningKeyPair, VerifyKey

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
    protected_bytes, _, payload, signature = _parse_strict(message).value
    try:
        protected = cbor2.loads(protected_bytes)
    except Exception:
        raise InvalidSignature("protected header is not CBOR") from None
    if not isinstance(protected, dict) or protected.get(HEADER_ALG) != COSE_ALG_EDDSA:
        raise InvalidSignature("unexpected algorithm")
    kid = protected.get(HEADER_KID)
    if not isinstance(kid, bytes) or not hmac.compare_digest(kid, verifier.kid):
        raise InvalidSignature("unexpected key id")
    to_be_signed = cbor2.dumps([SIGNATURE1_CONTEXT, protected_bytes, external_aad, payload])
    verifier.verify(signature, to_be_signed)
    return protected, payload


def _parse_strict(message: bytes) -> cbor2.CBORTag:
    if not isinstance(message, bytes):
        raise InvalidSignature("a signed message is bytes")
    try:
        tag = cbor2.loads(message)
        canonical = cbor2.dumps(tag)
    # cbor2 raises decode errors, but also RecursionError or MemoryError on hostile input.
    except Exception:
        raise InvalidSignature("not a CBOR message") from None
    if not (
        isinstance(tag, cbor2.CBORTag)
        and tag.tag == SIGN1_TAG
        and isinstance(tag.value, list)
        and len(tag.value) == 4
        and tag.value[1] == {}
        and all(isinstance(tag.value[i], bytes) for i in (0, 2, 3))
    ):
        raise InvalidSignature("not a COSE_Sign1 message in the expected shape")
    # Trailing bytes or non-deterministic encodings would let one message take many forms.
    if not hmac.compare_digest(canonical, message):
        raise InvalidSignature("not the deterministic encoding")
    return tag
