"""Revoke one credential: mark it, publish the doors it opened, report each lock's progress.

The one place a view's revocation happens: a grant (any kind: keys, guests, couriers,
service providers), a phone registration, a personal doorcode, a keycard, a single-day or a
one-time code. Revoking twice keeps the first instant; the answer reports the locks against
it. A keycard has no revocation instant of its own: it is deactivated, reported from `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from keyturn.cloud.access.codes import revoke_single_day_code
from keyturn.cloud.access.doors import key_door_ids, person_door_ids
from keyturn.cloud.access.rollout import LockStatus, lock_status, publish
from keyturn.cloud.models import (
    Doorcode,
    Grant,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    SingleDayCode,
)

Credential = Grant | MobileKeyRegistration | Doorcode | Keycard | SingleDayCode | OneTimeCode


@dataclass(frozen=True, slots=True)
class Revocation:
    """What was revoked, from when, and which locks have applied it yet."""

    id: str
    revoked_at: datetime
    locks: list[LockStatus]


def revoke(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    credential: Credential,
    now: datetime,
) -> Revocation:
    """Revoke `credential` (once) at `now` and publish the doors of `property_id` it opened.

    The caller found the credential where it may act on it; the change is flushed and
    published in the caller's transaction, which the caller commits.
    """
    revoked_at, door_ids = _mark(session, property_id, credential, now)
    publish(session, master_key, door_ids, now)
    return Revocation(credential.id, revoked_at, lock_status(session, door_ids, revoked_at))


def revoke_all(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    credentials: Sequence[Credential],
    also_publish: Iterable[str] = (),
    now: datetime,
) -> list[LockStatus]:
    """Revoke many credentials at `now` and publish every door they opened once (with
    `also_publish`, doors whose lists changed otherwise in the same act); the per-lock status
    of the whole change.
    """
    door_ids = set(also_publish)
    for credential in credentials:
        door_ids.update(_mark(session, property_id, credential, now)[1])
    publish(session, master_key, door_ids, now)
    return lock_status(session, door_ids, now)


def _mark(
    session: Session, property_id: str, credential: Credential, now: datetime
) -> tuple[datetime, list[str]]:
    """Record the revocation; the instant it took effect and the doors whose lists change."""
    if isinstance(credential, Keycard):
        credential.active = False
        return now, person_door_ids(session, property_id, credential.person_id)
    if isinstance(credential, SingleDayCode):
        revoked = revoke_single_day_code(session, credential.id, now).revoked_at
        assert revoked is not None
        return revoked, [credential.door_id]
    if credential.revoked_at is None:
        credential.revoked_at = now
    if isinstance(credential, Grant):
        return credential.revoked_at, key_door_ids(credential.key)
    if isinstance(credential, MobileKeyRegistration):
        return credential.revoked_at, person_door_ids(session, property_id, credential.person_id)
    return credential.revoked_at, [credential.door_id]
