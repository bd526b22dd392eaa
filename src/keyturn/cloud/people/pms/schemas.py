"""Bodies of the PMS review routes: a review of a partial match, and a manager's decision."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from keyturn.cloud.fields import (
    EXAMPLE_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_TIME,
    example_config,
    strict_config,
)

EXAMPLE_REVIEW = {
    "id": EXAMPLE_ID,
    "person_id": EXAMPLE_PERSON_ID,
    "email": "ana@example.org",
    "pms_name": "Ana Lima Souza",
    "known_name": "Ana Lima",
    "unit": "4B",
    "state": "pending",
    "created_at": EXAMPLE_TIME,
    "decided_at": None,
}


class ReviewOut(BaseModel):
    """A PMS lease whose email belongs to someone known here by another name."""

    model_config = example_config(EXAMPLE_REVIEW)

    id: str
    person_id: str = Field(description="The person this property knows by the email")
    email: str
    pms_name: str = Field(description="The name the PMS lists")
    known_name: str = Field(description="The name this portfolio knows the person by")
    unit: str = Field(description="The unit's label, as the PMS lists it")
    state: Literal["pending", "accepted", "rejected"]
    created_at: datetime
    decided_at: datetime | None


class ReviewDecision(BaseModel):
    """`accept`: the same person, the next sync moves them in; `reject`: leave the lease alone."""

    model_config = strict_config({"decision": "accept"})

    decision: Literal["accept", "reject"]
