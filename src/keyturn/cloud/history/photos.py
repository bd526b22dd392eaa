"""A lock's photo as the cloud keeps it: its data key sealed under the master key, and the one
way to open it again (the photo route and a person's copy of their data both use it).
"""

from __future__ import annotations

from pathlib import Path

from keyturn.cloud.history.errors import PhotoErased, PhotoUnreadable
from keyturn.cloud.models import Photo
from keyturn.crypto.errors import SealError
from keyturn.crypto.sealed import decrypt_blob, seal, unseal
from keyturn.protocol.photos import photo_context


def _key_context(photo_id: str) -> bytes:
    return f"photo-key:{photo_id}".encode()


def seal_photo_key(master_key: bytes, data_key: bytes, photo_id: str) -> bytes:
    """The photo's data key sealed for `Photo.key_sealed`, bound to the photo's row id."""
    return seal(master_key, data_key, _key_context(photo_id))


def open_photo(photo: Photo, master_key: bytes, photo_dir: Path) -> bytes:
    """The photo in clear: its data key unsealed, then the lock's ciphertext opened.

    PhotoErased when its key or its file is gone, PhotoUnreadable when it does not open.
    """
    if photo.key_sealed is None or photo.erased_at is not None:
        raise PhotoErased()
    try:
        blob = (photo_dir / photo.storage_key).read_bytes()
    except FileNotFoundError:
        raise PhotoErased("the photo store no longer holds this photo") from None
    if photo.lock_photo_id is None:
        raise PhotoUnreadable("the lock's name for this photo was not recorded")
    try:
        data_key = unseal(master_key, photo.key_sealed, _key_context(photo.id))
        return decrypt_blob(data_key, blob, photo_context(photo.lock_photo_id))
    except SealError:
        raise PhotoUnreadable() from None
