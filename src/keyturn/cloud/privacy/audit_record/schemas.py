"""Response bodies of the audit record route: an entry with its actor, action and subject in
words, and a page of them.

Ids stay beside the names, for the links a front end makes; the detail never holds secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from keyturn.cloud.fields import EXAMPLE_ID, EXAMPLE_PERSON_ID, EXAMPLE_TIME, example_config
from keyturn.cloud.paging import Page

EXAMPLE_ENTRY: dict[str, Any] = {
    "id": EXAMPLE_ID,
    "at": EXAMPLE_TIME,
    "actor": {
        "kind": "person",
        "person_id": EXAMPLE_PERSON_ID,
        "name": "Morgan Reyes",
        "email": "morgan@example.org",
    },
    "action": "history.export",
    "action_words": "exported access history",
    "subject": {"type": "events", "id": None, "name": None},
    "detail": {"filters": {"door_id": EXAMPLE_ID}, "as_manager": True},
}


class ActorOut(BaseModel):
    kind: Literal["person", "operator", "system"] = Field(
        description="A person; the installation's operator at the CLI; or the service itself"
    )
    person_id: str | None
    name: str = Field(description="As this portfolio knows the person, or the operator/system")
    email: str | None


class SubjectOut(BaseModel):
    type: str = Field(description="What kind of object the act was about")
    id: str | None
    name: str | None = Field(description="Its name where it is a person, door, key or grant")


class AuditEntryOut(BaseModel):
    model_config = example_config(EXAMPLE_ENTRY)

    id: str
    at: datetime
    actor: ActorOut
    action: str = Field(description="The action's code, e.g. history.read or dsar.received")
    action_words: str
    subject: SubjectOut
    detail: dict[str, Any]


AuditPageOut = Page[AuditEntryOut]
