"""What an explanation and an access review answer with: the checks, steps and lock views.

Plain frozen data, built by the other explain modules and turned into JSON by schemas.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keyturn.rules.types import CredentialType, DoorKind, Reason

# The credential types a person holds; single-day and one-time codes belong to nobody.
PERSONAL_TYPES = (
    CredentialType.MOBILE_KEY,
    CredentialType.PERSONAL_DOORCODE,
    CredentialType.KEYCARD,
)
TYPE_WORDS = {
    CredentialType.MOBILE_KEY: "mobile key",
    CredentialType.PERSONAL_DOORCODE: "personal doorcode",
    CredentialType.KEYCARD: "keycard",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LOCAL_FORMAT = "%a %Y-%m-%d %H:%M %Z"


class Check:
    """The checks of `rules.decide.decide`, in its order; each step names one."""

    KEYPAD = "keypad"
    LOCKDOWN = "lockdown"
    CREDENTIAL = "credential"
    SUSPENSION = "suspension"
    REVOCATION = "revocation"
    DOOR = "door"
    VALIDITY = "validity"
    SCHEDULE = "schedule"


CHECK_ORDER = (
    Check.KEYPAD,
    Check.LOCKDOWN,
    Check.CREDENTIAL,
    Check.SUSPENSION,
    Check.REVOCATION,
    Check.DOOR,
    Check.VALIDITY,
    Check.SCHEDULE,
)
# Which check produced each refusal: decide() gives the reason, this only places it.
FAILED_CHECK = {
    Reason.KEYPAD_LOCKED_OUT: Check.KEYPAD,
    Reason.LOCKDOWN: Check.LOCKDOWN,
    Reason.UNKNOWN_CREDENTIAL: Check.CREDENTIAL,
    Reason.SUSPENDED: Check.SUSPENSION,
    Reason.REVOKED: Check.REVOCATION,
    Reason.WRONG_DOOR: Check.DOOR,
    Reason.NOT_YET_VALID: Check.VALIDITY,
    Reason.EXPIRED: Check.VALIDITY,
    Reason.OUTSIDE_SCHEDULE: Check.SCHEDULE,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One check of the decision: `outcome` is passed, failed or not_checked."""

    check: str
    outcome: str
    text: str


@dataclass(frozen=True, slots=True)
class CredentialAnswer:
    """What the lock decides for one of the person's credentials, and why."""

    credential_type: CredentialType
    credential_id: str | None
    label: str
    reason: Reason
    key_id: str | None = None
    key_name: str | None = None
    grant_id: str | None = None
    resident: bool = False
    steps: tuple[Step, ...] = ()
    # The decision on the newest list, when the lock holds an older one.
    after_sync: Reason | None = None

    @property
    def opens(self) -> bool:
        return self.reason == Reason.GRANTED


@dataclass(frozen=True, slots=True)
class LockView:
    """Which list the answer was decided on, against the newest the cloud published."""

    device_id: str | None
    applied_version: int | None
    newest_version: int | None
    evaluated_version: int | None
    last_sync_at: datetime | None
    up_to_date: bool
    note: str


@dataclass(frozen=True, slots=True)
class Explanation:
    property_id: str
    person_id: str
    person_name: str
    door_id: str
    door_name: str
    door_kind: DoorKind
    at: datetime
    local_time: str
    time_zone: str
    lock: LockView
    credentials: tuple[CredentialAnswer, ...]
    missing: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def opens(self) -> bool:
        return any(answer.opens for answer in self.credentials)

    @property
    def summary(self) -> str:
        who, door, when = self.person_name, self.door_name, self.local_time
        opening = [a.label for a in self.credentials if a.opens]
        if opening:
            return f"{who} can open {door} at {when} with: {', '.join(opening)}."
        if not self.credentials:
            return f"{who} cannot open {door} at {when}: they hold no credential for it."
        reasons = ", ".join(sorted({a.reason.value for a in self.credentials}))
        return f"{who} cannot open {door} at {when} (the lock would journal: {reasons})."


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One way one person opens the door at the instant reviewed."""

    person_id: str
    person_name: str
    credential_type: CredentialType
    credential_id: str
    label: str
    key_id: str | None
    key_name: str | None
    grant_id: str | None
    resident: bool


@dataclass(frozen=True, slots=True)
class AccessReview:
    property_id: str
    door_id: str
    door_name: str
    door_kind: DoorKind
    at: datetime
    local_time: str
    lock: LockView
    people: tuple[ReviewRow, ...]
    notes: tuple[str, ...] = ()
