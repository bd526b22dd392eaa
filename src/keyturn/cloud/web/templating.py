"""Templates of a front end and what every page gets: the viewer, the CSRF token for forms,
and times written in the property's zone.

Each front end makes one `Pages` over its own template folder and static path (the portal's
`portal/templating.py`, the app's `app_web/templating.py`). Templates autoescape everything;
pages pass plain values, never markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
from keyturn.cloud.web import formatting
from keyturn.cloud.web.gate import FORM_CSRF_FIELD, Viewer

# The form token of the page being rendered: a global, so that macros imported without the
# page's context (`{% import "macros.html" as m %}`) still put it into their forms.
_form_token: ContextVar[str] = ContextVar("page_form_token", default="")


@contextmanager
def form_token(token: str) -> Iterator[None]:
    """While rendering one page: the CSRF token its forms carry."""
    reset = _form_token.set(token)
    try:
        yield
    finally:
        _form_token.reset(reset)


class Pages:
    """One front end's templates, rendered with the context every one of its pages gets."""

    def __init__(
        self,
        *,
        templates: Path,
        static_path: str,
        context: Callable[[Viewer], Mapping[str, Any]] | None = None,
    ) -> None:
        self.templates = Jinja2Templates(directory=templates)
        self.static_path = static_path
        self._context = context
        env = self.templates.env
        env.globals["static"] = lambda name: f"{static_path}/{name}?v={__version__}"
        env.globals["csrf_field"] = FORM_CSRF_FIELD
        env.globals["form_token"] = _form_token.get
        env.filters["span"] = formatting.span

    def render(
        self,
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
            "current_path": request.url.path,
            "csrf_token": request.cookies.get(CSRF_COOKIE, ""),
        }
        if viewer is not None:
            base["when"] = partial(formatting.local_time, zone=viewer.zone, now=viewer.now)
            base["day"] = partial(formatting.local_date, zone=viewer.zone)
            base["ago"] = partial(formatting.ago, now=viewer.now)
            if self._context is not None:
                base.update(self._context(viewer))
        with form_token(base["csrf_token"]):
            return self.templates.TemplateResponse(
                request, template, {**base, **context}, status_code=status_code, headers=headers
            )
