"""How a door photo's ciphertext is bound to its photo: shared by the lock that encrypts it
and the cloud that decrypts it."""

from __future__ import annotations

PHOTO_CONTEXT = b"keyturn/photo/"


def photo_context(photo_id: str) -> bytes:
    """The associated data a photo's ciphertext is bound to, on the lock and in the cloud."""
    return PHOTO_CONTEXT + photo_id.encode()
