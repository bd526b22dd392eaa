"""The unlock decision: one pure function the lock calls for every attempt at a door.

The lock matches what was presented (a code's keyed MAC, a card id, a verified mobile-key
token) to an AccessEntry itself; decide() then applies the checks in one fixed order so the
lock and the cloud give the same reason for the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from keyturn.rules.schedule import Schedule, require_aware
from keyturn.rules.types import CredentialType, Reason


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One credential as the lock knows it.

    `subject` is the holder's pseudonymous id, `key_id` the key (doors plus schedule) the
    credential belongs to, and `resident` whether the holder has resident status at these
    doors. For a mobile key the lock builds the entry from the verified token's claims, with
    the token's own validity narrowed into `schedule.starts_at` / `schedule.ends_at`.
    """

    credential_id: str
    credential_type: CredentialType
    subject: str
    key_id: str | None
    grant_id: str | None
    granted_by: str | None
    door_ids: frozenset[str]
    schedule: Schedule
    resident: bool


@dataclass(frozen=True, slots=True)
class LockState:
    """What the lock currently knows beyond its access list, as of its last sync."""

    revoked_credential_ids: frozenset[str] = frozenset()
    revoked_key_ids: frozenset[str] = frozenset()
    suspended_subjects: frozenset[str] = frozenset()
    lockdown: bool = False
    keypad_locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Presentation:
    """An attempt at the door: the kind of credential and the entry it matched, if any."""

    credential_type: CredentialType
    entry: AccessEntry | None


@dataclass(frozen=True, slots=True)
class Decision:
    reason: Reason
    credential_type: CredentialType
    entry: AccessEntry | None

    @property
    def granted(self) -> bool:
        return self.reason == Reason.GRANTED

    @property
    def subject(self) -> str | None:
        return self.entry.subject if self.entry is not None else None


def decide(
    presentation: Presentation, state: LockState, door_id: str, now: datetime, tz: tzinfo
) -> Decision:
    """Grant or deny one attempt at `door_id` at instant `now`, in the property's zone `tz`.

    Checks, first failure wins:
    0. a mechanical key is always GRANTED: it turns the cylinder whatever the lock decides,
       so the decision only records that it was sensed (A2, A9), even during lockdown;
    1. KEYPAD_LOCKED_OUT, for doorcodes only, while the keypad cools down (A7);
    2. LOCKDOWN;
    3. UNKNOWN_CREDENTIAL: no entry matched, or the entry is of another credential type;
    4. SUSPENDED: the holder's building access is suspended (A6);
    5. REVOKED: the credential or its key is on the revocation list;
    6. WRONG_DOOR;
    7. NOT_YET_VALID, EXPIRED, OUTSIDE_SCHEDULE, from the entry's schedule;
    8. GRANTED.
    """
    require_aware(now, "now")
    kind = presentation.credential_type
    entry = presentation.entry
    if kind == CredentialType.MECHANICAL_KEY:
        return Decision(Reason.GRANTED, kind, entry)
    reason = _first_refusal(kind, entry, state, door_id, now, tz)
    known = entry if entry is not None and entry.credential_type == kind else None
    return Decision(reason or Reason.GRANTED, kind, known)


def _first_refusal(
    kind: CredentialType,
    entry: AccessEntry | None,
    state: LockState,
    door_id: str,
    now: datetime,
    tz: tzinfo,
) -> Reason | None:
    locked_until = state.keypad_locked_until
    if kind.is_doorcode and locked_until is not None and now < locked_until:
        return Reason.KEYPAD_LOCKED_OUT
    if state.lockdown:
        return Reason.LOCKDOWN
    if entry is None or entry.credential_type != kind:
        return Reason.UNKNOWN_CREDENTIAL
    if entry.subject in state.suspended_subjects:
        return Reason.SUSPENDED
    if entry.credential_id in state.revoked_credential_ids or (
        entry.key_id is not None and entry.key_id in state.revoked_key_ids
    ):
        return Reason.REVOKED
    if door_id not in entry.door_ids:
        return Reason.WRONG_DOOR
    return entry.schedule.check(now, tz)
