"""The input rule every route shares: no text in a path, a query or a JSON body may hold NUL.

PostgreSQL cannot store NUL in text and SQLite would keep it silently, so the API refuses it
at the edge with the usual 422 `validation` problem, the same on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

NUL = "\x00"
_MESSAGE = "NUL characters are not allowed in text"


def _nul_paths(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where in a parsed JSON value a string (or an object key) holds NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*where, key)
            yield from _nul_paths(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*where, index))


async def refuse_nul_characters(request: Request) -> None:
    """An app-wide dependency: 422 before any route work when a path, query or JSON body holds
    NUL, so every route documents 422."""
    found: list[tuple[str | int, ...]] = [
        ("path", name) for name, value in request.path_params.items() if NUL in str(value)
    ]
    found += [("query", name) for name, value in request.query_params.multi_items() if NUL in value]
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            # FastAPI has parsed the body already; this reads its cached copy.
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None  # malformed JSON is the route's own 422, not this rule's
        found += list(_nul_paths(body, ("body",)))
    if found:
        raise RequestValidationError(
            [{"loc": where, "msg": _MESSAGE, "type": "string_nul"} for where in found]
        )
