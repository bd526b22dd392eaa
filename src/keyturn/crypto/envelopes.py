"""Signed envelopes: any payload the cloud sends a lock, or a lock sends up, as COSE_Sign1.

The signer's key id and an optional content type ride in the protected header; a fixed
external AAD keeps an envelope from ever being accepted as a mobile key or a challenge.
"""

from __future__ import annotations

from keyturn.crypto._sign1 import HEADER_CONTENT_TYPE, sign1, verify_sign1
from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.keys import SigningKeyPair, VerifyKey

ENVELOPE_AAD = b"keyturn/envelope/v1"


def seal_signed(payload: bytes, signer: SigningKeyPair, content_type: str | None = None) -> bytes:
    """Sign payload as a COSE_Sign1 envelope, naming content_type (a media type) if given."""
    extra = {HEADER_CONTENT_TYPE: content_type} if content_type is not None else None
    return sign1(payload, signer, ENVELOPE_AAD, extra)


def open_signed(message: bytes, verifier: VerifyKey, content_type: str | None = None) -> bytes:
    """The payload of an envelope signed by verifier; InvalidSignature for anything else.

    If content_type is given, the envelope must carry exactly that content type.
    """
    protected, payload = verify_sign1(message, verifier, ENVELOPE_AAD)
    if content_type is not None and protected.get(HEADER_CONTENT_TYPE) != content_type:
        raise InvalidSignature("unexpected content type")
    return payload
