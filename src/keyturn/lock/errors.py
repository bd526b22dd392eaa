"""The errors raised by keyturn.lock, as one small hierarchy under LockError.

Refusals of authentic but unacceptable input (an old access list, a firmware rollback) are
reported in results and events rather than raised; these errors mean the caller must act.
"""

from __future__ import annotations

from keyturn.errors import KeyturnError


class LockError(KeyturnError):
    """Base class for every failure in keyturn.lock."""


class NotProvisioned(LockError):
    """The data dir holds no door configuration yet: provision the lock first."""


class AlreadyProvisioned(LockError):
    """The data dir already holds a door configuration; a lock is bound to one door."""


class MissingCapability(LockError):
    """The input needs hardware this lock model does not have."""


class JournalCorrupt(LockError):
    """The journal's hash chain or sequence does not verify."""


class SyncRefused(LockError):
    """A downlink frame failed its checks (signature, encryption, device, or freshness: see
    keyturn.lock.freshness) and changed nothing."""


class TransportError(LockError):
    """A carrier could not deliver a frame."""
