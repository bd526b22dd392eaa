"""Request and response bodies of a lost-phone suspension (A6)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from keyturn.cloud.access.schemas import EXAMPLE_LOCK, LockStatusOut
from keyturn.cloud.fields import (
    EXAMPLE_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_TIME,
    Flag,
    example_config,
    strict_config,
)


class SuspendRequest(BaseModel):
    """Suspend at once (A6); by default a temporary doorcode is emailed to the person."""

    model_config = strict_config({"send_temporary_code": True})

    send_temporary_code: Flag = True


class SuspensionOut(BaseModel):
    model_config = example_config(
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
