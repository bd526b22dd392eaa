"""Wiring authentication into an app: its router, problem handlers and state.

`install_auth` is called once by `create_app`; it also turns the framework's validation errors
and HTTP errors into RFC 9457 problems, so every 4xx the API gives has the same shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.deps import app_routes
from keyturn.cloud.auth.views import router
from keyturn.cloud.db import utcnow
from keyturn.cloud.problems import problem
from keyturn.cloud.sessions import session_factory

_KINDS = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}


def install_auth(
    app: FastAPI,
    config: AuthConfig | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Add the auth routes and the problem handlers to the app."""
    auth_config = config if config is not None else AuthConfig()
    app.state.auth_config = auth_config
    app.state.clock = clock
    if not hasattr(app.state, "sessions"):
        app.state.sessions = session_factory(app.state.engine)
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with where and why, but never the input itself (it may hold a password)."""
    errors = [
        {"loc": [str(part) for part in error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return problem(
        422,
        "validation",
        "The request is not valid",
        "see `errors` for each field",
        extra={"errors": errors},
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    kind = _KINDS.get(status, "http-error")
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem(status, kind, title, detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at this request's path.

    Starlette names only the methods of the first route that matched the path, though a path
    is often served by several routes (its GET and its POST declared apart).
    """
    table: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(
        request.app.state, "methods_by_path", None
    )
    if table is None:
        table = [(compile_path(info.path)[0], info.methods) for info in app_routes(request.app)]
        request.app.state.methods_by_path = table
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    return sorted({method for regex, methods in table if regex.match(path) for method in methods})
