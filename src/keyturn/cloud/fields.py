"""The schema kit every domain's `schemas.py` builds on: field types, model configurations and
the example ids of the OpenAPI description, each defined here once.

Pydantic's lax mode reads `0` as false and `0.5` as a Unix time; the API documents booleans
and ISO 8601 times, so these types accept exactly that: a JSON boolean (`true` / `false` in a
query) and an ISO 8601 date or date-time string. Every input of those kinds uses them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field, StringConstraints

_DATE = r"\d{4}-\d{2}-\d{2}"
_ISO_DATE = re.compile(rf"{_DATE}\Z")
# A date, a `T` (or a space, as RFC 3339 allows), then at least hours and minutes; pydantic
# parses the rest, so this only keeps out what is not ISO 8601 text at all (numbers, dates).
_ISO_DATETIME = re.compile(rf"{_DATE}[Tt ]\d{{2}}:\d{{2}}")
_QUERY_BOOLEANS = {"true": True, "false": False}


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATETIME.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date-time string, such as 2026-03-02T09:00:00Z")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    raise ValueError("must be an ISO 8601 date string, such as 2026-03-02")


def _json_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    raise ValueError("must be a JSON boolean")


def _query_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _QUERY_BOOLEANS:
        return _QUERY_BOOLEANS[value]
    raise ValueError("must be true or false")


# A JSON boolean; 0, 1 and strings are refused.
Flag = Annotated[bool, Field(strict=True)]
# The JSON `true` of an agreement (a consent); lax mode would take 1 as well.
Agreed = Annotated[Literal[True], BeforeValidator(_json_boolean)]
# A boolean query parameter: the text `true` or `false`, nothing else.
QueryFlag = Annotated[bool, BeforeValidator(_query_boolean)]
# An ISO 8601 date-time, as the schemas took it before (with or without an offset).
Instant = Annotated[datetime, BeforeValidator(_iso_datetime)]
# An ISO 8601 date-time with its UTC offset.
AwareInstant = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]
# An ISO 8601 calendar date.
Day = Annotated[date, BeforeValidator(_iso_date)]


# An object's id in a request: a UUID, or any short opaque text.
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
# A name people read: a door, a key, a person's display name.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# An email address as a person types it; the mail service checks it further.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]


def strict_config(example: dict[str, Any]) -> ConfigDict:
    """The configuration of a request body: unknown fields refused, and its example."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


def example_config(example: dict[str, Any]) -> ConfigDict:
    """The configuration of a response body: only its example for the OpenAPI description."""
    return ConfigDict(json_schema_extra={"examples": [example]})


def example_id(number: int) -> str:
    """The made-up UUID numbered `number` that the API description's examples use."""
    return f"6f1c0a4e-0000-4000-8000-{number:012x}"


EXAMPLE_ID = example_id(0x01)
EXAMPLE_PERSON_ID = example_id(0x02)
EXAMPLE_KEY_ID = example_id(0x03)
EXAMPLE_GRANT_ID = example_id(0x04)
EXAMPLE_PROPERTY_ID = example_id(0x05)
EXAMPLE_DEVICE_ID = example_id(0x06)
EXAMPLE_UNIT_ID = example_id(0x07)
# A role membership's example shares the unit's number; an invitation's has its own (0x0A).
EXAMPLE_MEMBERSHIP_ID = example_id(0x07)
EXAMPLE_PORTFOLIO_ID = example_id(0x08)
EXAMPLE_TOKEN_ID = example_id(0x09)
EXAMPLE_REQUEST_ID = example_id(0x0B)
EXAMPLE_EVENT_ID = example_id(0x0C)
EXAMPLE_TIME = "2026-03-02T09:00:00Z"
