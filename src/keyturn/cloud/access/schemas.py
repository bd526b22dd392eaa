"""Request and response bodies of keys, grants, credentials, guests, codes and lost phones.

Requests refuse unknown fields and wrong types; codes appear in exactly one response each,
the one that issued them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from keyturn.cloud.fields import Day, Flag, Instant
from keyturn.cloud.models import GrantKind

Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
HourMinute = Annotated[str, StringConstraints(pattern=r"^\d\d:\d\d$")]
DoorIds = Annotated[list[Id], Field(min_length=1, max_length=50)]
EXAMPLE_ID = "6f1c0a4e-0000-4000-8000-000000000001"
EXAMPLE_PERSON_ID = "6f1c0a4e-0000-4000-8000-000000000002"
EXAMPLE_KEY_ID = "6f1c0a4e-0000-4000-8000-000000000003"
EXAMPLE_GRANT_ID = "6f1c0a4e-0000-4000-8000-000000000004"
EXAMPLE_PROPERTY_ID = "6f1c0a4e-0000-4000-8000-000000000005"
EXAMPLE_DEVICE_ID = "6f1c0a4e-0000-4000-8000-000000000006"
EXAMPLE_WINDOW = {"weekday": 0, "start": "09:00", "end": "17:00"}
EXAMPLE_TIME = "2026-03-02T09:00:00Z"
EXAMPLE_LOCK = {
    "device_id": EXAMPLE_DEVICE_ID,
    "door_id": EXAMPLE_ID,
    "door_name": "Entrance",
    "required_version": 42,
    "applied_version": 41,
    "applied": False,
    "last_sync_at": "2026-03-02T08:55:00Z",
}
EXAMPLE_CODE = {"id": EXAMPLE_GRANT_ID, "door_id": EXAMPLE_ID, "code": "4826153"}


def _strict(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


def _example(example: dict[str, Any]) -> ConfigDict:
    """The configuration of a response body: only its example for the OpenAPI description."""
    return ConfigDict(json_schema_extra={"examples": [example]})


class LockStatusOut(BaseModel):
    """Whether one lock has applied a change: it has once `applied_version` ≥ `required`."""

    model_config = _example(EXAMPLE_LOCK)

    device_id: str
    door_id: str
    door_name: str
    required_version: int | None = Field(
        description="The first access-list version carrying the change; null until published"
    )
    applied_version: int
    applied: bool
    last_sync_at: datetime | None


class Window(BaseModel):
    """A weekly window in the property's local time; weekday 0 is Monday, end may be 24:00."""

    model_config = _strict(EXAMPLE_WINDOW)

    weekday: Annotated[int, Field(ge=0, le=6, strict=True)]
    start: HourMinute
    end: HourMinute


Windows = Annotated[list[Window], Field(max_length=50)]


class KeyCreate(BaseModel):
    """A key: doors plus a weekly schedule (no windows: any time) and its sharing flags."""

    model_config = _strict(
        {
            "name": "Residents 4B",
            "door_ids": [EXAMPLE_ID],
            "windows": [],
            "may_share": True,
            "provides_doorcodes": True,
        }
    )

    name: Name
    door_ids: DoorIds
    windows: Windows = []
    may_share: Flag = False
    provides_doorcodes: Flag = False


class KeyUpdate(BaseModel):
    model_config = _strict({"windows": [EXAMPLE_WINDOW], "may_share": False})

    name: Name | None = None
    door_ids: DoorIds | None = None
    windows: Windows | None = None
    may_share: Flag | None = None
    provides_doorcodes: Flag | None = None


class KeyOut(BaseModel):
    model_config = _example(
        {
            "id": EXAMPLE_KEY_ID,
            "property_id": EXAMPLE_PROPERTY_ID,
            "name": "Residents 4B",
            "door_ids": [EXAMPLE_ID],
            "windows": [EXAMPLE_WINDOW],
            "may_share": True,
            "provides_doorcodes": True,
            "created_at": EXAMPLE_TIME,
        }
    )

    id: str
    property_id: str
    name: str
    door_ids: list[str]
    windows: list[Window]
    may_share: Flag
    provides_doorcodes: Flag
    created_at: datetime


class GrantCreate(BaseModel):
    """A key given to a person from `starts_at` (default now) to an optional `ends_at`.

    `resident` gives resident status at the key's residence doors: their history from the
    start on (V2). It is never given to oneself, and an earlier start becomes now.
    """

    model_config = _strict(
        {"person_id": EXAMPLE_ID, "starts_at": "2026-03-02T09:00:00Z", "resident": True}
    )

    person_id: Id
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    resident: Flag = False


class GrantOut(BaseModel):
    model_config = _example(
        {
            "id": EXAMPLE_GRANT_ID,
            "key_id": EXAMPLE_KEY_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "kind": "standard",
            "starts_at": EXAMPLE_TIME,
            "ends_at": None,
            "resident": True,
            "created_by": EXAMPLE_ID,
            "revoked_at": None,
        }
    )

    id: str
    key_id: str
    person_id: str
    kind: GrantKind
    starts_at: datetime
    ends_at: datetime | None
    resident: Flag
    created_by: str | None
    revoked_at: datetime | None


class RevocationOut(BaseModel):
    """A recorded revocation, and which locks have applied it so far."""

    model_config = _example(
        {
            "id": EXAMPLE_GRANT_ID,
            "revoked_at": EXAMPLE_TIME,
            "note": "Each lock drops it at its next sync; `locks` says which have.",
            "locks": [EXAMPLE_LOCK],
        }
    )

    id: str
    revoked_at: datetime
    note: str
    locks: list[LockStatusOut]


class PhoneEnrol(BaseModel):
    """A phone's raw Ed25519 public key (base64url); mobile keys will be bound to it."""

    model_config = _strict({"public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})

    public_key: Annotated[str, StringConstraints(min_length=40, max_length=64)]


class PhoneOut(BaseModel):
    model_config = _example(
        {
            "id": EXAMPLE_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "phone_key_id": "k1F0c2Vb3QxY",
            "registered_at": EXAMPLE_TIME,
            "revoked_at": None,
        }
    )

    id: str
    person_id: str
    phone_key_id: str
    registered_at: datetime
    revoked_at: datetime | None


class MobileKeyOut(BaseModel):
    """One short-lived token per live grant; present it at the door and sign the challenge."""

    model_config = _example(
        {
            "grant_id": EXAMPLE_GRANT_ID,
            "door_ids": [EXAMPLE_ID],
            "not_before": EXAMPLE_TIME,
            "expires": "2026-03-05T09:00:00Z",
            "token": "0oRDoQEmoFhSpQF4JGtleXR1cm4...",
        }
    )

    grant_id: str
    door_ids: list[str]
    not_before: datetime
    expires: datetime
    token: str = Field(description="The COSE-signed token, base64url")


class MobileKeysOut(BaseModel):
    model_config = _example(
        {
            "registration_id": EXAMPLE_ID,
            "keys": [
                {
                    "grant_id": EXAMPLE_GRANT_ID,
                    "door_ids": [EXAMPLE_ID],
                    "not_before": EXAMPLE_TIME,
                    "expires": "2026-03-05T09:00:00Z",
                    "token": "0oRDoQEmoFhSpQF4JGtleXR1cm4...",
                }
            ],
        }
    )

    registration_id: str
    keys: list[MobileKeyOut]


class DoorcodeIssue(BaseModel):
    model_config = _strict({"door_id": EXAMPLE_ID})

    door_id: Id


class CodeIssued(BaseModel):
    """A code shown once: only its MAC (or, for single-day codes, its slot) is kept."""

    model_config = _example(EXAMPLE_CODE)

    id: str
    door_id: str
    code: str


class DoorcodeOut(BaseModel):
    model_config = _example(
        {
            "id": EXAMPLE_GRANT_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "door_id": EXAMPLE_ID,
            "created_at": EXAMPLE_TIME,
            "revoked_at": None,
        }
    )

    id: str
    person_id: str
    door_id: str
    created_at: datetime
    revoked_at: datetime | None


class KeycardActivate(BaseModel):
    model_config = _strict({"card_uid": "04A224B2C35E80"})

    card_uid: Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{4,64}$")]


class KeycardOut(BaseModel):
    model_config = _example(
        {
            "id": EXAMPLE_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "card_uid": "04A224B2C35E80",
            "active": True,
            "created_at": EXAMPLE_TIME,
        }
    )

    id: str
    person_id: str
    card_uid: str
    active: bool
    created_at: datetime


class GuestInvite(BaseModel):
    """Invite a guest with a mobile key (A5): start at most a year ahead, optional end."""

    model_config = _strict(
        {
            "email": "guest@example.org",
            "display_name": "Sam",
            "key_id": EXAMPLE_ID,
            "starts_at": "2026-03-06T18:00:00Z",
            "ends_at": "2026-03-08T12:00:00Z",
            "windows": [],
        }
    )

    email: Email
    display_name: Name
    key_id: Id
    starts_at: Instant
    ends_at: Instant | None = None
    windows: Windows = Field(
        default=[], description="Weekly windows for the guest; empty: the key's own schedule"
    )


class GuestOut(BaseModel):
    model_config = _example(
        {
            "grant_id": EXAMPLE_GRANT_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "display_name": "Sam",
            "email": "guest@example.org",
            "key_id": EXAMPLE_KEY_ID,
            "starts_at": "2026-03-06T18:00:00Z",
            "ends_at": "2026-03-08T12:00:00Z",
            "revoked_at": None,
        }
    )

    grant_id: str
    person_id: str
    display_name: str
    email: str | None
    key_id: str
    starts_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None


class SingleDayCreate(BaseModel):
    """Codes valid on one local calendar day (A4), one per door asked for."""

    model_config = _strict(
        {"local_date": "2026-03-07", "door_ids": [EXAMPLE_ID], "guest_label": "Aunt May"}
    )

    local_date: Day
    door_ids: Annotated[list[Id], Field(min_length=1, max_length=5)]
    guest_label: Name | None = None


class SingleDayIssued(BaseModel):
    model_config = _example(
        {
            "local_date": "2026-03-07",
            "codes": [EXAMPLE_CODE],
            "note": "Valid at 4B door on 2026-03-07, midnight to midnight local time.",
        }
    )

    local_date: date
    codes: list[CodeIssued]
    note: str


class SingleDayOut(BaseModel):
    model_config = _example(
        {
            "id": EXAMPLE_GRANT_ID,
            "door_id": EXAMPLE_ID,
            "local_date": "2026-03-07",
            "slot": 0,
            "guest_label": "Aunt May",
            "created_by": EXAMPLE_PERSON_ID,
            "created_at": EXAMPLE_TIME,
            "revoked_at": None,
            "locks": [],
        }
    )

    id: str
    door_id: str
    local_date: date
    slot: int
    guest_label: str | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    locks: list[LockStatusOut] = Field(description="Per-lock status of the revocation, if any")


class OneTimeCreate(BaseModel):
    """A short code that works for `valid_minutes` after its first use."""

    model_config = _strict({"door_id": EXAMPLE_ID, "valid_minutes": 15})

    door_id: Id
    valid_minutes: Annotated[int, Field(ge=1, le=1440, strict=True)] = 15


class CourierCodesCreate(BaseModel):
    """Courier codes (A8): never for residence doors; one code per door, the same if free."""

    model_config = _strict({"door_ids": [EXAMPLE_ID], "valid_minutes": 30})

    door_ids: DoorIds
    valid_minutes: Annotated[int, Field(ge=1, le=1440, strict=True)] = 30


class CodesIssued(BaseModel):
    model_config = _example({"codes": [EXAMPLE_CODE]})

    codes: list[CodeIssued]


class VisitorCreate(BaseModel):
    """A courier or service provider with a key of their own, limited to chosen doors."""

    model_config = _strict(
        {
            "email": "walker@example.org",
            "display_name": "Dog walker",
            "door_ids": [EXAMPLE_ID],
            "windows": [{"weekday": 1, "start": "12:00", "end": "13:00"}],
            "starts_at": "2026-03-02T00:00:00Z",
        }
    )

    email: Email
    display_name: Name
    door_ids: DoorIds
    windows: Windows = []
    starts_at: Instant | None = None
    ends_at: Instant | None = None


class VisitorOut(BaseModel):
    model_config = _example(
        {
            "grant_id": EXAMPLE_GRANT_ID,
            "key_id": EXAMPLE_KEY_ID,
            "person_id": EXAMPLE_PERSON_ID,
            "kind": "service_provider",
            "door_ids": [EXAMPLE_ID],
            "windows": [{"weekday": 1, "start": "12:00", "end": "13:00"}],
            "starts_at": EXAMPLE_TIME,
            "ends_at": None,
            "revoked_at": None,
        }
    )

    grant_id: str
    key_id: str
    person_id: str
    kind: GrantKind
    door_ids: list[str]
    windows: list[Window]
    starts_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None


class SuspendRequest(BaseModel):
    """Suspend at once (A6); by default a temporary doorcode is emailed to the person."""

    model_config = _strict({"send_temporary_code": True})

    send_temporary_code: Flag = True


class SuspensionOut(BaseModel):
    model_config = _example(
        {
            "person_id": EXAMPLE_PERSON_ID,
            "suspended_at": EXAMPLE_TIME,
            "revoked_phone_ids": [EXAMPLE_ID],
            "temporary_code_emailed": True,
            "temporary_code_doors": [EXAMPLE_ID],
            "note": "Each lock refuses the person's credentials from its next sync.",
            "locks": [EXAMPLE_LOCK],
        }
    )

    person_id: str
    suspended_at: datetime | None
    revoked_phone_ids: list[str]
    temporary_code_emailed: bool
    temporary_code_doors: list[str]
    note: str
    locks: list[LockStatusOut]
