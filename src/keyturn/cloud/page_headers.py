"""Security headers on every page the service renders (the portal, the app, the API docs).

A strict Content-Security-Policy: scripts, styles, images and connections only from this
origin, no inline script, no framing. The resident app's pages (/app/...) may also connect
to loopback addresses: there a lock's near-field service stands in for the radio between
phone and lock (docs/near-field.md), and the browser is the phone. An HTML answer gets the
policy; every answer gets `nosniff`. A pure ASGI middleware: it only looks at the start of
each response.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; worker-src 'self'; manifest-src 'self'"
)
APP_PATH = "/app/"
NEAR_FIELD_SOURCES = "http://127.0.0.1:* http://localhost:*"
APP_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "connect-src 'self'", f"connect-src 'self' {NEAR_FIELD_SOURCES}"
)
_FRAMING = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
_PAGE_HEADERS = ((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), *_FRAMING)
_APP_PAGE_HEADERS = ((b"content-security-policy", APP_CONTENT_SECURITY_POLICY.encode()), *_FRAMING)
_EVERY_ANSWER = ((b"x-content-type-options", b"nosniff"),)


class PageHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        on_page = _APP_PAGE_HEADERS if scope["path"].startswith(APP_PATH) else _PAGE_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                is_page = any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                )
                extra = (*_EVERY_ANSWER, *(on_page if is_page else ()))
                headers.extend(pair for pair in extra if pair[0] not in names)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
