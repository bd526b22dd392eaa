"""The door camera and the lock's photo vault: photos encrypted at rest until uploaded.

Each photo gets its own data key; the file holds only ciphertext and the key rests in the
store sealed under the storage key, so deleting the key row shreds the photo.
"""

from __future__ import annotations

import io
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from keyturn.crypto.sealed import decrypt_blob, encrypt_blob, new_data_key, seal, unseal
from keyturn.protocol.messages import PhotoUpload
from keyturn.protocol.photos import photo_context

JPEG = "image/jpeg"
PHOTO_SIZE = (160, 120)


class Camera(Protocol):
    """A still camera facing the outside of the door; there is never video (P1)."""

    def capture(self, caption: str, moment: datetime) -> bytes: ...


class SimulatedCamera:
    """Draws a small real JPEG showing the door and the lock's time."""

    def __init__(self) -> None:
        self._font: Any = None
        self._scene: tuple[str, Any] | None = None  # (caption, the frame with it drawn)

    def capture(self, caption: str, moment: datetime) -> bytes:
        # Imported here: Pillow costs memory that camera-less locks should not pay.
        from PIL import Image, ImageDraw, ImageFont

        if self._font is None:
            self._font = ImageFont.load_default()
        # The door's caption never changes, so it is drawn once and only the time each shot.
        if self._scene is None or self._scene[0] != caption:
            scene = Image.new("RGB", PHOTO_SIZE, (40, 44, 52))
            ImageDraw.Draw(scene).text((6, 40), caption[:26], fill=(255, 255, 255), font=self._font)
            self._scene = (caption, scene)
        image = self._scene[1].copy()
        ImageDraw.Draw(image).text(
            (6, 62), moment.strftime("%Y-%m-%d %H:%M:%S %Z"), fill=(200, 200, 120), font=self._font
        )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=70)
        return buffer.getvalue()


class PhotoVault:
    """Encrypted photo files in a folder, with their sealed keys in the store."""

    def __init__(self, conn: sqlite3.Connection, storage_key: bytes, folder: Path) -> None:
        self._conn = conn
        self._storage_key = storage_key
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, photo_id: str) -> Path:
        return self.folder / f"{photo_id}.bin"

    def write(self, photo_id: str, jpeg: bytes) -> bytes:
        """Encrypt the photo under a new data key into its file (synced); the data key."""
        data_key = new_data_key()
        blob = encrypt_blob(data_key, jpeg, photo_context(photo_id))
        fd = os.open(self.path(photo_id), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        return data_key

    def record(self, photo_id: str, seq: int, data_key: bytes) -> None:
        """Register the photo of journal entry `seq`; call inside that entry's transaction."""
        sealed = seal(self._storage_key, data_key, photo_context(photo_id))
        self._conn.execute(
            "INSERT INTO photos (photo_id, seq, sealed_key, content_type) VALUES (?, ?, ?, ?)",
            (photo_id, seq, sealed, JPEG),
        )

    def _data_key(self, photo_id: str, sealed: bytes) -> bytes:
        return unseal(self._storage_key, sealed, photo_context(photo_id))

    def uploads(self, from_seq: int, to_seq: int) -> tuple[PhotoUpload, ...]:
        rows = self._conn.execute(
            "SELECT photo_id, seq, sealed_key, content_type FROM photos "
            "WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (from_seq, to_seq),
        ).fetchall()
        return tuple(
            PhotoUpload(
                photo_id=photo_id,
                seq=seq,
                content_type=content_type,
                data_key=self._data_key(photo_id, sealed),
                ciphertext=self.path(photo_id).read_bytes(),
            )
            for photo_id, seq, sealed, content_type in rows
        )

    def read(self, photo_id: str) -> bytes:
        """The photo in clear (for the lock's own checks and tests)."""
        row = self._conn.execute(
            "SELECT sealed_key FROM photos WHERE photo_id = ?", (photo_id,)
        ).fetchone()
        if row is None:
            raise KeyError(photo_id)
        data_key = self._data_key(photo_id, row[0])
        return decrypt_blob(data_key, self.path(photo_id).read_bytes(), photo_context(photo_id))

    def forget(self, photo_ids: list[str]) -> None:
        """Delete the key rows (in the caller's transaction); files go in `remove_files`."""
        self._conn.executemany("DELETE FROM photos WHERE photo_id = ?", [(p,) for p in photo_ids])

    def ids_through(self, seq: int) -> list[str]:
        rows = self._conn.execute("SELECT photo_id FROM photos WHERE seq <= ?", (seq,))
        return [row[0] for row in rows.fetchall()]

    def remove_files(self, photo_ids: list[str]) -> None:
        for photo_id in photo_ids:
            self.path(photo_id).unlink(missing_ok=True)

    def remove_orphans(self) -> None:
        """Delete files whose key row never committed (a crash between file and journal)."""
        known = {row[0] for row in self._conn.execute("SELECT photo_id FROM photos")}
        for path in self.folder.glob("*.bin"):
            if path.stem not in known:
                path.unlink(missing_ok=True)
