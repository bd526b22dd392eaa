"""Request body limits: each route's own, whatever Content-Type the client declares.

Every route takes at most JSON_BODY_LIMIT; the few that take uploads declare more with
`openapi_extra=body_limit(n)`, which also tells clients the limit in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_BODY_LIMIT = 1024 * 1024
LIMIT_EXTENSION = "x-max-body-size"


def body_limit(max_bytes: int) -> dict[str, Any]:
    """The `openapi_extra` of a route whose bodies may be up to `max_bytes` long."""
    return {LIMIT_EXTENSION: max_bytes}


def route_limit(scope: Scope) -> int:
    """The body limit of the route the router chose for this request (the default if none)."""
    extra = getattr(scope.get("route"), "openapi_extra", None) or {}
    limit: int = extra.get(LIMIT_EXTENSION, JSON_BODY_LIMIT)
    return limit


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request bodies here are limited to {max_bytes} bytes")


class BodyLimit:
    """Refuse a body over its route's limit with 413, by its Content-Length or as it streams.

    The limit is looked up when the route first reads the body, so after routing; nothing past
    the limit is ever read, and a body no route reads is never read at all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int | None = None
        received = 0

        async def limited() -> Message:
            nonlocal limit, received
            if limit is None:
                limit = route_limit(scope)
                declared = dict(scope["headers"]).get(b"content-length")
                if declared is not None and (not declared.isdigit() or int(declared) > limit):
                    raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
