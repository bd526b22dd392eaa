"""Request and response bodies of the people routes: people, roles, CSV import, suspension.

Requests refuse unknown fields; the CSV import travels as a JSON string so it is typed too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from keyturn.rules.types import Role

EXAMPLE_ID = "6f1c0a4e-0000-4000-8000-000000000001"
UnitId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
# Guests, couriers and service providers arrive through their own flows, with their access.
AssignableRole = Literal[
    Role.PORTFOLIO_MANAGER,
    Role.PROPERTY_MANAGER,
    Role.STAFF,
    Role.RESIDENT,
]


class RoleIn(BaseModel):
    """A role at this property; a resident names their unit, nobody else does."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"role": "resident", "unit_id": EXAMPLE_ID}]},
    )

    role: AssignableRole
    unit_id: UnitId | None = None

    @model_validator(mode="after")
    def _unit_only_for_residents(self) -> RoleIn:
        if (self.role == Role.RESIDENT) != (self.unit_id is not None):
            raise ValueError("a resident needs a unit_id, and only a resident has one")
        return self


class PersonCreate(RoleIn):
    """A person invited by email to a role here; they choose a password from the email."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "bo@example.org",
                    "display_name": "Bo",
                    "role": "resident",
                    "unit_id": EXAMPLE_ID,
                }
            ]
        },
    )

    email: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
        ),
    ]
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]


class MembershipOut(BaseModel):
    id: str
    person_id: str
    property_id: str
    role: Role
    unit_id: str | None
    created_at: datetime


class PersonOut(BaseModel):
    id: str
    display_name: str
    email: str | None
    roles: list[MembershipOut]
    suspended_at: datetime | None
    created_at: datetime


class ResidentImport(BaseModel):
    """A CSV file with the header `name,email,unit` (unit labels); all rows or none."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"csv": "name,email,unit\nAna Lima,ana@example.org,4B\n"}]},
    )

    csv: Annotated[str, StringConstraints(min_length=1, max_length=512 * 1024)]


class ImportRowOut(BaseModel):
    line: int
    email: str
    status: str = Field(description="`created` (new person) or `added` (known person)")
    person_id: str | None


class ImportReport(BaseModel):
    """Every row imported: `created` new people, `added` known people given the role."""

    imported: int
    rows: list[ImportRowOut] = Field(description="One entry per CSV row, in file order")
