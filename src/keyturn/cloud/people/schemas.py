"""Request and response bodies of the people routes: people, roles, CSV import, suspension.

Requests refuse unknown fields; the CSV import travels as a JSON string so it is typed too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from keyturn.cloud.auth.schemas import EXAMPLE_INVITATION
from keyturn.cloud.fields import (
    EXAMPLE_ID,
    EXAMPLE_MEMBERSHIP_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    Email,
    Flag,
    Id,
    Name,
    example_config,
    strict_config,
)
from keyturn.cloud.people.consent.schemas import EXAMPLE_AT_PROPERTY, ConsentAtPropertyOut
from keyturn.rules.types import Role

# Guests, couriers and service providers arrive through their own flows, with their access.
AssignableRole = Literal[
    Role.PORTFOLIO_MANAGER,
    Role.PROPERTY_MANAGER,
    Role.STAFF,
    Role.RESIDENT,
]


class RoleIn(BaseModel):
    """A role at this property; a resident names their unit, nobody else does."""

    model_config = strict_config({"role": "resident", "unit_id": EXAMPLE_ID})

    role: AssignableRole
    unit_id: Id | None = None

    @model_validator(mode="after")
    def _unit_only_for_residents(self) -> RoleIn:
        if (self.role == Role.RESIDENT) != (self.unit_id is not None):
            raise ValueError("a resident needs a unit_id, and only a resident has one")
        return self


class PersonCreate(RoleIn):
    """A person invited by email to a role here; they choose a password from the email."""

    model_config = strict_config(EXAMPLE_INVITATION)

    email: Email
    display_name: Name
    is_minor: Flag = Field(
        default=False,
        description="A minor's credentials in New York City need a guardian's written consent",
    )


class PersonUpdate(BaseModel):
    """Change a person's name or minor flag; fields left out stay as they are."""

    model_config = strict_config({"display_name": "Bo", "is_minor": True})

    display_name: Name | None = None
    is_minor: Flag | None = None


EXAMPLE_MEMBERSHIP: dict[str, Any] = {
    "id": EXAMPLE_MEMBERSHIP_ID,
    "person_id": EXAMPLE_PERSON_ID,
    "property_id": EXAMPLE_PROPERTY_ID,
    "role": "resident",
    "unit_id": EXAMPLE_ID,
    "created_at": EXAMPLE_TIME,
}


class MembershipOut(BaseModel):
    model_config = example_config(EXAMPLE_MEMBERSHIP)

    id: str
    person_id: str
    property_id: str
    role: Role
    unit_id: str | None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_at: datetime


class PersonOut(BaseModel):
    model_config = example_config(
        {
            "id": EXAMPLE_PERSON_ID,
            "display_name": "Bo",
            "email": "bo@example.org",
            "is_minor": False,
            "roles": [EXAMPLE_MEMBERSHIP],
            "suspended_at": None,
            "consent": EXAMPLE_AT_PROPERTY,
            "created_at": EXAMPLE_TIME,
        }
    )

    id: str
    display_name: str
    email: str | None
    is_minor: bool
    roles: list[MembershipOut]
    suspended_at: datetime | None
    consent: ConsentAtPropertyOut
    created_at: datetime


class ResidentImport(BaseModel):
    """A CSV file with the header `name,email,unit` (unit labels); all rows or none."""

    model_config = strict_config({"csv": "name,email,unit\nAna Lima,ana@example.org,4B\n"})

    csv: Annotated[str, StringConstraints(min_length=1, max_length=512 * 1024)]


EXAMPLE_IMPORT_ROW: dict[str, Any] = {
    "line": 2,
    "email": "ana@example.org",
    "status": "created",
    "person_id": EXAMPLE_PERSON_ID,
}


class ImportRowOut(BaseModel):
    model_config = example_config(EXAMPLE_IMPORT_ROW)

    line: int
    email: str
    status: str = Field(description="`created` (new person) or `added` (known person)")
    person_id: str | None


class ImportReport(BaseModel):
    """Every row imported: `created` new people, `added` known people given the role."""

    model_config = example_config({"imported": 1, "rows": [EXAMPLE_IMPORT_ROW]})

    imported: int
    rows: list[ImportRowOut] = Field(description="One entry per CSV row, in file order")
