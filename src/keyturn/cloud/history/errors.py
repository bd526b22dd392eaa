"""Refusals of access history: a filter that makes no sense, and photos that cannot be shown.

Each is a Refusal, answered by the app's one handler with its problem type.
"""

from __future__ import annotations

from keyturn.cloud.errors import Refusal


class InvalidFilter(Refusal):
    """A filter that is well-typed but makes no sense, answered like a validation error."""

    status = 422
    kind = "validation"
    title = "The request is not valid"

    def __init__(self, field: str, message: str) -> None:
        errors = [{"loc": ["query", field], "msg": message, "type": "value_error"}]
        super().__init__(message, members={"errors": errors})


class PhotoErased(Refusal):
    status = 410
    kind = "photo-erased"
    title = "This photo has been erased"


class PhotoUnreadable(Refusal):
    status = 500
    kind = "photo-unreadable"
    title = "This photo cannot be opened"
