"""Doorcode MACs and single-day code derivation, keyed by each door's secret.

The lock stores only MACs of codes and compares them in constant time; single-day codes
are derived the same way on the lock and in the cloud, so they need no sync.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date

from keyturn.crypto.errors import CryptoError
from keyturn.rules.doorcodes import MAX_CODE_LENGTH, MIN_CODE_LENGTH, is_weak

DOOR_SECRET_BYTES = 32
MAX_SLOT = 2**32 - 1
# Weak results are skipped by re-deriving with the next counter; for 5+ digits a weak
# result is rare, so running out of counters means the predicate is broken.
MAX_COUNTER = 1000

CODE_MAC_LABEL = b"keyturn/doorcode-mac/v1\x00"
SINGLE_DAY_LABEL = b"keyturn/single-day-code/v1\x00"
CARD_MAC_LABEL = b"keyturn/keycard-mac/v1\x00"


def door_secret() -> bytes:
    """A fresh 32-byte door secret from the operating system's random source."""
    return secrets.token_bytes(DOOR_SECRET_BYTES)


def code_mac(door_secret: bytes, code: str) -> bytes:
    """The 32-byte HMAC-SHA256 of a doorcode under the door's secret, as the lock stores it."""
    _check_secret(door_secret)
    if not (code.isascii() and code.isdigit()):
        raise ValueError("a doorcode is a non-empty string of ASCII digits")
    return hmac.new(door_secret, CODE_MAC_LABEL + code.encode("ascii"), hashlib.sha256).digest()


def normalise_card_uid(card_uid: str) -> str:
    """Upper-case hex digits without separators: "04:a2:b3" and "04A2B3" are one card."""
    cleaned = "".join(ch for ch in card_uid if ch not in ": -").upper()
    if not cleaned or not all(ch in "0123456789ABCDEF" for ch in cleaned):
        raise ValueError(f"a card identifier is hexadecimal, got {card_uid!r}")
    return cleaned


def card_mac(door_secret: bytes, card_uid: str) -> bytes:
    """The HMAC-SHA256 of a keycard's normalised identifier under the door's secret.

    This is the lock's lookup key for the card, so the label and the normalisation are part
    of the protocol between lock and cloud.
    """
    _check_secret(door_secret)
    message = CARD_MAC_LABEL + normalise_card_uid(card_uid).encode("ascii")
    return hmac.new(door_secret, message, hashlib.sha256).digest()


def codes_equal(a: bytes, b: bytes) -> bool:
    """Whether two code MACs are equal, in time that does not depend on where they differ."""
    return hmac.compare_digest(a, b)


def single_day_code(door_secret: bytes, local_date: date, slot: int, length: int) -> str:
    """The single-day code of a door for one local calendar date and slot, `length` digits.

    The HMAC input is the label, the ISO date (always 10 characters), then the slot and a
    counter as 4-byte big-endian integers, so no two inputs share an encoding. The 256-bit
    HMAC is reduced modulo 10**length; with at most 10 digits the bias is below 2**-222.
    A weak result (keyturn.rules.doorcodes.is_weak) is skipped by taking the next counter.
    """
    _check_secret(door_secret)
    if not MIN_CODE_LENGTH <= length <= MAX_CODE_LENGTH:
        raise ValueError(f"length must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} digits")
    if not 0 <= slot <= MAX_SLOT:
        raise ValueError("slot must fit in 32 bits")
    prefix = SINGLE_DAY_LABEL + local_date.isoformat().encode() + slot.to_bytes(4, "big")
    for counter in range(MAX_COUNTER):
        digest = hmac.new(door_secret, prefix + counter.to_bytes(4, "big"), hashlib.sha256)
        code = str(int.from_bytes(digest.digest(), "big") % 10**length).zfill(length)
        if not is_weak(code):
            return code
    raise CryptoError("no strong single-day code found; the weakness rule rejects everything")


def _check_secret(door_secret: bytes) -> None:
    if not isinstance(door_secret, bytes) or len(door_secret) != DOOR_SECRET_BYTES:
        raise ValueError(f"a door secret is {DOOR_SECRET_BYTES} bytes")
