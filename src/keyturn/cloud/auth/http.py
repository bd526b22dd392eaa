"""Wiring authentication into an app: its router, problem handlers, body limit and state.

`install_auth` is called once by `create_app`; it also turns validation errors and HTTP
errors into RFC 9457 problems, so every 4xx the API gives has the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.views import router
from keyturn.cloud.db import session_factory, utcnow
from keyturn.cloud.problems import ProblemError, problem

_BINARY_TYPES = (b"application/msgpack", b"application/octet-stream", b"image/")
_KINDS = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}


def install_auth(
    app: FastAPI,
    config: AuthConfig | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Add the auth routes, the problem handlers and the body-size limit to the app."""
    auth_config = config if config is not None else AuthConfig()
    app.state.auth_config = auth_config
    app.state.clock = clock
    if not hasattr(app.state, "sessions"):
        app.state.sessions = session_factory(app.state.engine)
    app.include_router(router)
    app.add_exception_handler(ProblemError, _problem_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(
        BodySizeLimit,
        max_bytes=auth_config.max_body_bytes,
        max_upload_bytes=auth_config.max_upload_bytes,
    )


async def _problem_error(_request: Request, exc: ProblemError) -> JSONResponse:
    return exc.response()


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


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    kind = _KINDS.get(status, "http-error")
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem(status, kind, title, detail, headers=exc.headers)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request bodies are limited to {max_bytes} bytes")


class BodySizeLimit:
    """Refuse request bodies over the limit with 413, by header or while they stream in.

    JSON and form bodies get `max_bytes`; binary uploads (lock sync batches with photos)
    get the larger `max_upload_bytes`.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        binary = headers.get(b"content-type", b"").startswith(_BINARY_TYPES)
        limit = self.max_upload_bytes if binary else self.max_json_bytes
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            error = BodyTooLarge(limit)
            response = problem(413, "body-too-large", "Payload Too Large", error.detail)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
