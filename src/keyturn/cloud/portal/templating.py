"""The portal's templates and what every page gets: the viewer, its navigation, the CSRF token
for forms, and times written in the property's zone.

Templates autoescape everything; pages pass plain values, never markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from keyturn import __version__
from keyturn.cloud.auth.deps import CSRF_COOKIE
from keyturn.cloud.portal.navigation import sections_for
from keyturn.cloud.web import formatting
from keyturn.cloud.web.gate import FORM_CSRF_FIELD, Viewer

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/portal/static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TEMPLATES.env.globals["static"] = lambda name: f"{STATIC_PATH}/{name}?v={__version__}"
TEMPLATES.env.globals["csrf_field"] = FORM_CSRF_FIELD
# The form token of the page being rendered: a global, so that macros imported without the
# page's context (`{% import "macros.html" as m %}`) still put it into their forms.
_form_token: ContextVar[str] = ContextVar("portal_form_token", default="")
TEMPLATES.env.globals["form_token"] = _form_token.get


@contextmanager
def form_token(token: str) -> Iterator[None]:
    """While rendering one page: the CSRF token its forms carry."""
    reset = _form_token.set(token)
    try:
        yield
    finally:
        _form_token.reset(reset)


TEMPLATES.env.filters["span"] = formatting.span


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None,
    title: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The template rendered for this request, with the page's common context."""
    base: dict[str, Any] = {
        "title": title,
        "viewer": viewer,
        "prop": viewer.prop if viewer is not None else None,
        "sections": sections_for(viewer) if viewer is not None else [],
        "current_path": request.url.path,
        "csrf_token": request.cookies.get(CSRF_COOKIE, ""),
    }
    if viewer is not None:
        base["when"] = partial(formatting.local_time, zone=viewer.zone, now=viewer.now)
        base["day"] = partial(formatting.local_date, zone=viewer.zone)
        base["ago"] = partial(formatting.ago, now=viewer.now)
    with form_token(base["csrf_token"]):
        return TEMPLATES.TemplateResponse(
            request, template, {**base, **context}, status_code=status_code, headers=headers
        )
