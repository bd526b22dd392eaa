"""Request and response bodies of phones, mobile keys, personal doorcodes and keycards.

A code appears in exactly one response, the one that issued it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from keyturn.cloud.access.schemas import EXAMPLE_CODE
from keyturn.cloud.fields import (
    EXAMPLE_GRANT_ID,
    EXAMPLE_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_TIME,
    Id,
    example_config,
    strict_config,
)
from keyturn.rules.types import DoorKind


class PhoneEnrol(BaseModel):
    """A phone's raw Ed25519 public key (base64url); mobile keys will be bound to it."""

    model_config = strict_config({"public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})

    public_key: Annotated[str, StringConstraints(min_length=40, max_length=64)]


class PhoneOut(BaseModel):
    model_config = example_config(
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

    model_config = example_config(
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


class KeyDoorOut(BaseModel):
    """A door a mobile key opens, and where a phone reaches its lock (docs/near-field.md)."""

    id: str
    name: str
    kind: DoorKind
    near_field_url: str | None = Field(
        description="The lock's near-field service as it last reported it; null if none"
    )


class MobileKeysOut(BaseModel):
    model_config = example_config(
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
            "doors": [
                {
                    "id": EXAMPLE_ID,
                    "name": "Front entrance",
                    "kind": "entrance",
                    "near_field_url": "http://127.0.0.1:47100/near-field/v1",
                }
            ],
        }
    )

    registration_id: str
    keys: list[MobileKeyOut]
    doors: list[KeyDoorOut] = Field(
        default_factory=list, description="The doors these keys open, by name"
    )


class DoorcodeIssue(BaseModel):
    model_config = strict_config({"door_id": EXAMPLE_ID})

    door_id: Id


class CodeIssued(BaseModel):
    """A code shown once: only its MAC (or, for single-day codes, its slot) is kept."""

    model_config = example_config(EXAMPLE_CODE)

    id: str
    door_id: str
    code: str


class DoorcodeOut(BaseModel):
    model_config = example_config(
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
    model_config = strict_config({"card_uid": "04A224B2C35E80"})

    card_uid: Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{4,64}$")]


class KeycardOut(BaseModel):
    model_config = example_config(
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
