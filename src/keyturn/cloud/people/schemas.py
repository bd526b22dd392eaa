"""Request and response bodies of the people routes: people, roles, CSV import, suspension.

Requests refuse unknown fields; the CSV import travels as a JSON string so it is typed too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from keyturn.cloud.fields import Flag
from keyturn.cloud.people.consent.schemas import (
    EXAMPLE_AT_PROPERTY,
    EXAMPLE_PERSON_ID,
    EXAMPLE_PROPERTY_ID,
    ConsentAtPropertyOut,
)
from keyturn.rules.types import Role

EXAMPLE_ID = "6f1c0a4e-0000-4000-8000-000000000001"
EXAMPLE_MEMBERSHIP_ID = "6f1c0a4e-0000-4000-8000-000000000007"
UnitId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
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
    display_name: DisplayName
    is_minor: Flag = Field(
        default=False,
        description="A minor's credentials in New York City need a guardian's written consent",
    )


class PersonUpdate(BaseModel):
    """Change a person's name or minor flag; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"display_name": "Bo", "is_minor": True}]}
    )

    display_name: DisplayName | None = None
    is_minor: Flag | None = None


EXAMPLE_MEMBERSHIP: dict[str, Any] = {
    "id": EXAMPLE_MEMBERSHIP_ID,
    "person_id": EXAMPLE_PERSON_ID,
    "property_id": EXAMPLE_PROPERTY_ID,
    "role": "resident",
    "unit_id": EXAMPLE_ID,
    "created_at": "2026-03-02T09:00:00Z",
}


class MembershipOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_MEMBERSHIP]})

    id: str
    person_id: str
    property_id: str
    role: Role
    unit_id: str | None
    created_at: datetime


class PersonOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_PERSON_ID,
                    "display_name": "Bo",
                    "email": "bo@example.org",
                    "is_minor": False,
                    "roles": [EXAMPLE_MEMBERSHIP],
                    "suspended_at": None,
                    "consent": EXAMPLE_AT_PROPERTY,
                    "created_at": "2026-03-02T09:00:00Z",
                }
            ]
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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"csv": "name,email,unit\nAna Lima,ana@example.org,4B\n"}]},
    )

    csv: Annotated[str, StringConstraints(min_length=1, max_length=512 * 1024)]


EXAMPLE_IMPORT_ROW: dict[str, Any] = {
    "line": 2,
    "email": "ana@example.org",
    "status": "created",
    "person_id": EXAMPLE_PERSON_ID,
}


class ImportRowOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_IMPORT_ROW]})

    line: int
    email: str
    status: str = Field(description="`created` (new person) or `added` (known person)")
    person_id: str | None


class ImportReport(BaseModel):
    """Every row imported: `created` new people, `added` known people given the role."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"imported": 1, "rows": [EXAMPLE_IMPORT_ROW]}]}
    )

    imported: int
    rows: list[ImportRowOut] = Field(description="One entry per CSV row, in file order")
