"""Response bodies of explain and access review: the lock's decision per credential, in steps.

Names travel with ids (people, keys, the door), and times with the property's local reading,
so a manager can read an answer without looking anything else up.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from keyturn.cloud.fields import (
    EXAMPLE_DEVICE_ID,
    EXAMPLE_GRANT_ID,
    EXAMPLE_ID,
    EXAMPLE_KEY_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    example_config,
)
from keyturn.rules.types import CredentialType, DoorKind, Reason

EXAMPLE_STEP = {
    "check": "schedule",
    "outcome": "passed",
    "text": "Key “Building” opens at any time of the week (America/New_York); "
    "Mon 2026-03-02 04:00 EST is inside.",
}
EXAMPLE_LOCK_VIEW = {
    "device_id": EXAMPLE_DEVICE_ID,
    "applied_version": 41,
    "newest_version": 42,
    "evaluated_version": 41,
    "last_sync_at": "2026-03-02T08:55:00Z",
    "up_to_date": False,
    "note": "The lock has not applied the newest list yet: until its next sync it decides on "
    "version 41 (the newest is version 42).",
}
EXAMPLE_ANSWER = {
    "credential_type": "personal_doorcode",
    "credential_id": EXAMPLE_ID,
    "label": "personal doorcode",
    "reason": "granted",
    "opens": True,
    "key_id": EXAMPLE_KEY_ID,
    "key_name": "Building",
    "grant_id": EXAMPLE_GRANT_ID,
    "resident": False,
    "steps": [EXAMPLE_STEP],
    "after_sync": "revoked",
}


class StepOut(BaseModel):
    """One check of the lock's decision, in the rules core's order."""

    model_config = example_config(EXAMPLE_STEP)

    check: str = Field(
        description="keypad, lockdown, credential, suspension, revocation, door, validity "
        "or schedule"
    )
    outcome: str = Field(description="passed, failed, or not_checked after a refusal")
    text: str


class LockViewOut(BaseModel):
    """Which access-list version the answer was decided on, against the newest one."""

    model_config = example_config(EXAMPLE_LOCK_VIEW)

    device_id: str | None = Field(description="The door's lock; null when none is bound")
    applied_version: int | None
    newest_version: int | None
    evaluated_version: int | None = Field(description="The version the answers were decided on")
    last_sync_at: datetime | None
    up_to_date: bool
    note: str


class CredentialAnswerOut(BaseModel):
    """The lock's decision for one credential of the person, with its steps."""

    model_config = example_config(EXAMPLE_ANSWER)

    credential_type: CredentialType
    credential_id: str | None
    label: str
    reason: Reason = Field(description="The reason code the lock would journal")
    opens: bool
    key_id: str | None
    key_name: str | None
    grant_id: str | None
    resident: bool
    steps: list[StepOut]
    after_sync: Reason | None = Field(
        description="The decision once the lock applies the newest list, when it holds an older one"
    )


class ExplanationOut(BaseModel):
    """Whether the person's credentials open the door at `at`, and why, as the lock decides."""

    model_config = example_config(
        {
            "property_id": EXAMPLE_PROPERTY_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "person_name": "Ada Park",
            "door_id": EXAMPLE_ID,
            "door_name": "Main entrance",
            "door_kind": "entrance",
            "at": EXAMPLE_TIME,
            "local_time": "Mon 2026-03-02 04:00 EST",
            "time_zone": "America/New_York",
            "opens": True,
            "summary": "Ada Park can open Main entrance at Mon 2026-03-02 04:00 EST with: "
            "personal doorcode.",
            "lock": EXAMPLE_LOCK_VIEW,
            "credentials": [EXAMPLE_ANSWER],
            "missing": ["No keycard at this property."],
            "notes": [],
        }
    )

    property_id: str
    person_id: str
    person_name: str
    door_id: str
    door_name: str
    door_kind: DoorKind
    at: datetime
    local_time: str
    time_zone: str
    opens: bool
    summary: str
    lock: LockViewOut
    credentials: list[CredentialAnswerOut]
    missing: list[str] = Field(description="Credential types the person holds none of here")
    notes: list[str]


class ReviewRowOut(BaseModel):
    """One way one person opens the door at the instant reviewed."""

    model_config = example_config(
        {
            "person_id": EXAMPLE_PERSON_ID,
            "person_name": "Ada Park",
            "credential_type": "keycard",
            "credential_id": EXAMPLE_ID,
            "label": "keycard",
            "key_id": EXAMPLE_KEY_ID,
            "key_name": "Building",
            "grant_id": EXAMPLE_GRANT_ID,
            "resident": False,
        }
    )

    person_id: str
    person_name: str
    credential_type: CredentialType
    credential_id: str
    label: str
    key_id: str | None
    key_name: str | None
    grant_id: str | None
    resident: bool


class AccessReviewOut(BaseModel):
    """Who can open the door at `at` and through which key, as the door's lock decides."""

    model_config = example_config(
        {
            "property_id": EXAMPLE_PROPERTY_ID,
            "door_id": EXAMPLE_ID,
            "door_name": "Main entrance",
            "door_kind": "entrance",
            "at": EXAMPLE_TIME,
            "local_time": "Mon 2026-03-02 04:00 EST",
            "lock": EXAMPLE_LOCK_VIEW,
            "people": [],
            "notes": ["Mechanical keys always turn the cylinder; the lock only records them."],
        }
    )

    property_id: str
    door_id: str
    door_name: str
    door_kind: DoorKind
    at: datetime
    local_time: str
    lock: LockViewOut
    people: list[ReviewRowOut]
    notes: list[str]
