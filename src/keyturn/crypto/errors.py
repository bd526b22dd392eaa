"""The errors raised by keyturn.crypto, as one small hierarchy under CryptoError.

Callers catch InvalidSignature or SealError for bad input; other library exceptions never
escape for untrusted bytes, so a malformed message cannot crash a lock.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for every failure in keyturn.crypto."""


class InvalidSignature(CryptoError):
    """A signed message or token is tampered, signed by another key, or not parseable."""


class TokenNotValidNow(CryptoError):
    """A correctly signed token is outside its validity window at the given time."""


class ExpiredToken(TokenNotValidNow):
    """The token's expiry is at or before the given time."""


class TokenNotYetValid(TokenNotValidNow):
    """The token's not-before time is after the given time."""


class SealError(CryptoError):
    """A sealed blob is tampered, sealed under another key, or bound to another context."""
