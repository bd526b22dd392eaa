"""What a route that changes locks answers: per-lock status, a revocation, a code issued.

Shared by every access resource's views so a revocation or a new code reads the same
everywhere.
"""

from __future__ import annotations

from keyturn.cloud.access.codes import IssuedCode
from keyturn.cloud.access.credentials.schemas import CodeIssued
from keyturn.cloud.access.revocation import Revocation
from keyturn.cloud.access.rollout import PENDING_NOTE, LockStatus
from keyturn.cloud.access.schemas import LockStatusOut, RevocationOut


def locks_out(locks: list[LockStatus]) -> list[LockStatusOut]:
    return [LockStatusOut.model_validate(lock, from_attributes=True) for lock in locks]


def revocation_out(revocation: Revocation, note: str = PENDING_NOTE) -> RevocationOut:
    return RevocationOut(
        id=revocation.id,
        revoked_at=revocation.revoked_at,
        note=note,
        locks=locks_out(revocation.locks),
    )


def code_out(issued: IssuedCode) -> CodeIssued:
    """A code as the one response that shows it."""
    return CodeIssued(id=issued.record_id, door_id=issued.door_id, code=issued.code)
