"""Request and response bodies of the manager routes: a manager's powers and the list of them.

The body of a PUT is the whole permission set; which fields fit together is the service's rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from keyturn.cloud.fields import (
    EXAMPLE_KEY_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_TIME,
    Flag,
    Id,
    example_config,
    example_id,
    strict_config,
)
from keyturn.cloud.people.managers.service import KeyLevel
from keyturn.rules.types import Role

MAX_MANAGED_KEYS = 200


class ManagerPowersIn(BaseModel):
    """A property manager's whole permission set; `key_ids` only (and then at least one) with
    keys "specific"."""

    model_config = strict_config(
        {
            "keys": "specific",
            "key_ids": [EXAMPLE_KEY_ID],
            "device_management": False,
            "security_viewer": True,
        }
    )

    keys: KeyLevel
    key_ids: Annotated[list[Id], Field(max_length=MAX_MANAGED_KEYS)] = []
    device_management: Flag = False
    security_viewer: Flag = False


class ManagedKeyOut(BaseModel):
    model_config = example_config({"id": EXAMPLE_KEY_ID, "name": "Gym"})

    id: str
    name: str


class ManagerOut(BaseModel):
    """One manager of the property, their powers here and who appointed them when."""

    model_config = example_config(
        {
            "person_id": EXAMPLE_PERSON_ID,
            "display_name": "Mo Manager",
            "email": "mo@example.org",
            "role": "property_manager",
            "keys": "specific",
            "managed_keys": [{"id": EXAMPLE_KEY_ID, "name": "Gym"}],
            "device_management": False,
            "security_viewer": True,
            "appointed_by": example_id(0x0D),
            "appointed_by_name": "Pat Portfolio",
            "appointed_at": EXAMPLE_TIME,
        }
    )

    person_id: str
    display_name: str
    email: str | None
    role: Role
    keys: KeyLevel
    managed_keys: list[ManagedKeyOut]
    device_management: bool
    security_viewer: bool
    appointed_by: str | None = Field(
        description="Who appointed them; null for the installation's operator"
    )
    appointed_by_name: str | None
    appointed_at: datetime
