"""Strict field types for request bodies and query parameters, shared by every domain.

Pydantic's lax mode reads `0` as false and `0.5` as a Unix time; the API documents booleans
and ISO 8601 times, so these types accept exactly that: a JSON boolean (`true` / `false` in a
query) and an ISO 8601 date or date-time string. Every input of those kinds uses them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field

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
