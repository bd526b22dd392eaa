"""Keycards: the keyed MAC of a card's identifier that the access list carries as `lookup`.

The cloud must compute the same value when it builds a door's list, so the label and the
normalisation of the identifier are part of the protocol.
"""

from __future__ import annotations

import hashlib
import hmac

CARD_LOOKUP_LABEL = b"keyturn/keycard-mac/v1\x00"


def normalise_card_uid(card_uid: str) -> str:
    """Upper-case hex digits without separators: "04:a2:b3" and "04A2B3" are one card."""
    cleaned = "".join(ch for ch in card_uid if ch not in ": -").upper()
    if not cleaned or not all(ch in "0123456789ABCDEF" for ch in cleaned):
        raise ValueError(f"a card identifier is hexadecimal, got {card_uid!r}")
    return cleaned


def card_lookup(door_secret: bytes, card_uid: str) -> bytes:
    """HMAC-SHA256 under the door secret of the label and the normalised identifier (ASCII)."""
    message = CARD_LOOKUP_LABEL + normalise_card_uid(card_uid).encode("ascii")
    return hmac.new(door_secret, message, hashlib.sha256).digest()
