"""Refusals answered as pages on a front end's paths, in the same words as the API's problems.

`install_answers` wraps each of the app's exception handlers: the API's handler still decides
status, title and detail; on a front end's path (the portal's /portal, the app's /app) its
problem is rendered as that front end's error page, and "sign in first" (401) becomes a
redirect to its sign-in page, which comes back here afterwards.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from keyturn.cloud.problems import PROBLEM_MEDIA_TYPE
from keyturn.cloud.web.templating import Pages

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


@dataclass(frozen=True)
class FrontEnd:
    """Where a front end's pages live, where its people sign in, and its pages."""

    prefix: str  # "/portal"
    sign_in_path: str
    pages: Pages

    def owns(self, request: Request) -> bool:
        path = request.url.path
        return path == self.prefix or path.startswith(self.prefix + "/")

    def sign_in_redirect(self, request: Request) -> RedirectResponse:
        """To the sign-in page, which sends the person back to this page (if one was viewed)."""
        back = request.url.path if request.method == "GET" else self.prefix + "/"
        if request.url.query and request.method == "GET":
            back += "?" + request.url.query
        return RedirectResponse(
            f"{self.sign_in_path}?next={quote(back, safe='/')}", status_code=303
        )

    def as_page(self, request: Request, problem: Response) -> Response:
        if problem.status_code == 401:
            return self.sign_in_redirect(request)
        try:
            body = json.loads(bytes(problem.body))
        except ValueError:
            body = {}
        return self.pages.render(
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


def _wrapped(handler: Handler, fronts: Sequence[FrontEnd]) -> Handler:
    async def answer(request: Request, exc: Any) -> Response:
        answered = handler(request, exc)
        problem = await answered if inspect.isawaitable(answered) else answered
        if problem.media_type != PROBLEM_MEDIA_TYPE:
            return problem
        for front in fronts:
            if front.owns(request):
                return front.as_page(request, problem)
        return problem

    return answer


def install_answers(app: FastAPI, fronts: Sequence[FrontEnd]) -> None:
    """Make every installed exception handler answer the front ends' paths with pages; call
    it last, once every handler is installed."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _wrapped(handler, fronts)
