"""What a route that changes locks answers: per-lock status and a revocation's result.

Shared by every access resource's views so a revocation reads the same everywhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from keyturn.cloud.access.revocation import Credential, Revocation, revoke
from keyturn.cloud.access.rollout import PENDING_NOTE, LockStatus
from keyturn.cloud.access.schemas import (
    LockStatusOut,
    RevocationOut,
)


def locks_out(locks: list[LockStatus]) -> list[LockStatusOut]:
    return [LockStatusOut.model_validate(lock, from_attributes=True) for lock in locks]


def revocation_out(revocation: Revocation, note: str = PENDING_NOTE) -> RevocationOut:
    return RevocationOut(
        id=revocation.id,
        revoked_at=revocation.revoked_at,
        note=note,
        locks=locks_out(revocation.locks),
    )


def revoked(
    db: Session,
    master_key: bytes,
    property_id: str,
    credential: Credential,
    now: datetime,
    note: str = PENDING_NOTE,
) -> RevocationOut:
    """Revoke the credential the route found, commit, and answer with each lock's progress."""
    revocation = revoke(
        session=db,
        master_key=master_key,
        property_id=property_id,
        credential=credential,
        now=now,
    )
    db.commit()
    return revocation_out(revocation, note)
