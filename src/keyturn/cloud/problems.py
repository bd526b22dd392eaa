"""RFC 9457 problem responses and the exception that every domain raises to produce one.

Each problem has a stable `type` under PROBLEM_BASE, so clients branch on the type and never
on the wording of `title` or `detail`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_BASE = "https://keyturn.invalid/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem response with a stable `type`."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if extra:
        body.update(extra)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {})
    )


class ProblemError(Exception):
    """An error that the API answers with one problem response; subclasses fix status and kind.

    Raise it from services or dependencies; the handler installed by the app renders it.
    """

    status = 400
    kind = "bad-request"
    title = "The request cannot be processed"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return problem(self.status, self.kind, self.title, self.detail, headers=self.headers)
