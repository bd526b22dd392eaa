"""Errors of the layers below the cloud's services turned into RFC 9457 problems at the edge.

The rules core raises framework-free RuleErrors; each kind maps to one stable problem type.
A unique-constraint violation (a name or identifier already in use) is a 409 without database
detail, and a database that cannot be reached is a 503 with Retry-After on every route, /health
included. A counter taken by a concurrent writer is no such conflict: the engine raises it as
TransientConflict, which `retries.py` runs again. The cloud's own refusals are Refusals
(`errors.py`), answered by the one handler the app factory installs.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from keyturn.cloud.db import DatabaseUnavailable
from keyturn.cloud.problems import problem
from keyturn.rules.errors import (
    CodeSpaceExhausted,
    InvalidDoorcode,
    InvalidGrant,
    InvalidSchedule,
    ResidentKeyDoor,
    RuleError,
    SelfResidentStatus,
)

# Most specific first: the first matching class decides the problem.
RULES: Sequence[tuple[type[RuleError], int, str, str]] = (
    (SelfResidentStatus, 403, "self-resident-status", "Nobody may give themself resident status"),
    (
        ResidentKeyDoor,
        409,
        "resident-key-door",
        "A key with resident status gains no residence door",
    ),
    (InvalidGrant, 422, "invalid-grant", "The access rules do not allow this grant"),
    (InvalidSchedule, 422, "invalid-schedule", "The schedule is not valid"),
    (CodeSpaceExhausted, 409, "code-space-exhausted", "No free doorcode is left at a door"),
    (InvalidDoorcode, 422, "invalid-doorcode", "The doorcode is not allowed"),
    (RuleError, 422, "rule-refused", "The access rules refuse this"),
)


# Connection refused or lost, a pool out of connections, a database busy or shut down.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
)
RETRY_AFTER_S = 5


async def _rule_refused(_request: Request, exc: Exception) -> JSONResponse:
    for cls, status, kind, title in RULES:
        if isinstance(exc, cls):
            return problem(status, kind, title, str(exc))
    raise exc  # pragma: no cover - only registered for the classes above


async def _integrity(_request: Request, _exc: IntegrityError) -> JSONResponse:
    return problem(
        409,
        "conflict",
        "The request conflicts with the current state",
        "a name or identifier in the request is already in use here",
    )


async def _database_unavailable(_request: Request, _exc: Exception) -> JSONResponse:
    """The driver's message never reaches the problem: it may name hosts and users."""
    return problem(
        503,
        "database-unavailable",
        "The database cannot be reached",
        "try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install_refusals(app: FastAPI) -> None:
    """Register the problem handlers of the rules core's and the database's errors on the app."""
    for cls in DATABASE_UNAVAILABLE:
        app.add_exception_handler(cls, _database_unavailable)
    for cls, *_ in RULES:
        app.add_exception_handler(cls, _rule_refused)
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
