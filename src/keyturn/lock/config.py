"""A lock's identity and door configuration: its own key pair, the storage key, DoorConfig.

The storage key lives in a 0600 file in the lock's data dir, standing in for the secure
element a real lock keeps it in; every other secret rests in the store sealed under it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from keyturn.crypto.keys import VerifyKey
from keyturn.protocol.messages import DoorConfig
from keyturn.rules.lockout import LockoutPolicy
from keyturn.rules.types import Capability

STORAGE_KEY_FILE = "storage.key"
STORE_FILE = "lock.db"
PHOTOS_DIR = "photos"
STORAGE_KEY_BYTES = 32


def load_or_create_storage_key(data_dir: Path) -> bytes:
    """The device storage key, created on first use with permissions 0600.

    On real hardware this key never leaves the secure element; here a file stands in for
    it, so whoever can read the file can read the lock's journal, photos and secrets.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / STORAGE_KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(STORAGE_KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
    if len(key) != STORAGE_KEY_BYTES:
        raise ValueError(f"{path} does not hold a {STORAGE_KEY_BYTES}-byte storage key")
    return key


@dataclass(frozen=True)
class DoorSettings:
    """The door configuration in the shapes the lock computes with."""

    config: DoorConfig

    @property
    def device_id(self) -> str:
        return self.config.device_id

    @property
    def door_id(self) -> str:
        return self.config.door_id

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.time_zone)

    @cached_property
    def authority(self) -> VerifyKey:
        return VerifyKey.from_bytes(self.config.authority_public_key)

    @cached_property
    def lockout_policy(self) -> LockoutPolicy:
        spec = self.config.lockout
        return LockoutPolicy(
            max_failures=spec.max_failures,
            window=timedelta(seconds=spec.window_s),
            first_cooldown=timedelta(seconds=spec.first_cooldown_s),
            max_cooldown=timedelta(seconds=spec.max_cooldown_s),
        )

    def has(self, capability: Capability) -> bool:
        return capability in self.config.capabilities
