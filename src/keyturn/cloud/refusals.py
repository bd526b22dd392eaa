"""Domain refusals turned into RFC 9457 problems, so resource views stay free of try/except.

Each error class the services raise maps to one stable problem type; a unique-constraint
violation (a name or identifier already in use) is a 409 without database detail, and a
database that cannot be reached is a 503 with Retry-After on every route, /health included.
A counter taken by a concurrent writer is no such conflict: the engine raises it as
TransientConflict, which `retries.py` runs again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from keyturn.cloud.access.codes import CodeRefused
from keyturn.cloud.access.credentials.mobile_keys import MobileKeyRefused
from keyturn.cloud.db import DatabaseUnavailable
from keyturn.cloud.devices.errors import DeviceError
from keyturn.cloud.mail.errors import InvalidMail
from keyturn.cloud.models import DoorKindLocked, InvalidPropertySetting
from keyturn.cloud.problems import ProblemError, problem
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
_MAPPED: Sequence[tuple[type[Exception], int, str, str]] = (
    (DoorKindLocked, 409, "door-kind-locked", "A door's kind is fixed while a lock is bound"),
    (InvalidPropertySetting, 422, "invalid-setting", "A property setting is not valid"),
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
    (CodeRefused, 422, "code-refused", "The code cannot be issued or revoked as asked"),
    (MobileKeyRefused, 409, "mobile-key-refused", "No mobile key can be issued to this phone"),
    (InvalidMail, 422, "invalid-email", "The email address cannot receive mail"),
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


class DatabaseUnreachable(ProblemError):
    """The database cannot be reached now; the problem never carries the driver's message."""

    status = 503
    kind = "database-unavailable"
    title = "The database cannot be reached"

    def __init__(self) -> None:
        super().__init__("try again shortly", headers={"Retry-After": str(RETRY_AFTER_S)})


class InvalidReference(ProblemError):
    """The body names an object that does not exist at this property (or at all)."""

    status = 422
    kind = "unknown-reference"
    title = "The request names something that does not exist here"


class NotYours(ProblemError):
    """The caller's role allows the action, but not on this door, key or code."""

    status = 403
    kind = "not-yours"
    title = "This is not yours to use or change"


class Rejected(ProblemError):
    """A refusal that carries extra members (a per-row report, per-lock status)."""

    status = 422
    kind = "rejected"
    title = "The request was rejected"

    def __init__(self, detail: str, extra: Mapping[str, Any]) -> None:
        super().__init__(detail)
        self.extra = dict(extra)

    def response(self) -> JSONResponse:
        return problem(self.status, self.kind, self.title, self.detail, extra=self.extra)


async def _mapped(_request: Request, exc: Exception) -> JSONResponse:
    for cls, status, kind, title in _MAPPED:
        if isinstance(exc, cls):
            return problem(status, kind, title, str(exc))
    raise exc  # pragma: no cover - only registered for the classes above


async def _device_error(_request: Request, exc: DeviceError) -> JSONResponse:
    return problem(exc.status, exc.kind, exc.title, str(exc))


async def _integrity(_request: Request, _exc: IntegrityError) -> JSONResponse:
    return problem(
        409,
        "conflict",
        "The request conflicts with the current state",
        "a name or identifier in the request is already in use here",
    )


async def _database_unavailable(_request: Request, _exc: Exception) -> JSONResponse:
    return DatabaseUnreachable().response()


def install_refusals(app: FastAPI) -> None:
    """Register the problem handlers of the resource routes on the app."""
    for cls in DATABASE_UNAVAILABLE:
        app.add_exception_handler(cls, _database_unavailable)
    for cls, *_ in _MAPPED:
        app.add_exception_handler(cls, _mapped)
    app.add_exception_handler(DeviceError, _device_error)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
