"""Refusals answered as pages on the portal's paths, in the same words as the API's problems.

`install_answers` wraps each of the app's exception handlers: the API's handler still decides
status, title and detail; on a portal path its problem is rendered as a page, and "sign in
first" (401) becomes a redirect to the sign-in page that comes back here afterwards.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from keyturn.cloud.portal.templating import render
from keyturn.cloud.problems import PROBLEM_MEDIA_TYPE

PORTAL_PREFIX = "/portal"
SIGN_IN_PATH = "/portal/sign-in"
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def is_portal(request: Request) -> bool:
    return request.url.path == PORTAL_PREFIX or request.url.path.startswith(PORTAL_PREFIX + "/")


def sign_in_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, which sends the person back to this page (if it was a page view)."""
    back = request.url.path if request.method == "GET" else PORTAL_PREFIX + "/"
    if request.url.query and request.method == "GET":
        back += "?" + request.url.query
    return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(back, safe='/')}", status_code=303)


def _as_page(request: Request, problem: Response) -> Response:
    if problem.status_code == 401:
        return sign_in_redirect(request)
    try:
        body = json.loads(bytes(problem.body))
    except ValueError:
        body = {}
    return render(
        request,
        "error.html",
        viewer=None,
        title=str(body.get("title") or "Something went wrong"),
        status_code=problem.status_code,
        # A 404's detail is the path, with its ids: the page says what it means instead.
        detail=None if problem.status_code == 404 else body.get("detail"),
        errors=body.get("errors") or [],
        status=problem.status_code,
    )


def _wrapped(handler: Handler) -> Handler:
    async def answer(request: Request, exc: Any) -> Response:
        answered = handler(request, exc)
        problem = await answered if inspect.isawaitable(answered) else answered
        if not is_portal(request) or problem.media_type != PROBLEM_MEDIA_TYPE:
            return problem
        return _as_page(request, problem)

    return answer


def install_answers(app: FastAPI) -> None:
    """Make every installed exception handler answer portal paths with a page; call it last."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _wrapped(handler)
