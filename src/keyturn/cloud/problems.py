"""RFC 9457 problem responses, the one handler that answers every Refusal with one, and
their OpenAPI description.

Each problem has a stable `type` under PROBLEM_BASE, so clients branch on the type and never
on the wording of `title` or `detail`; routes declare theirs with `problem_responses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keyturn.cloud.errors import PROBLEM_BASE, Refusal

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA = "Problem"
PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}

# What each refusal status means across the API; a route may say more for its own case.
_MEANINGS = {
    400: "The request cannot be processed (an undecodable body, a bad cursor, link or code)",
    401: "Not signed in, or the token or session is unknown, expired or revoked",
    403: "Signed in, but this role, permission, scope or object does not allow it",
    404: "No such object at this property (another property's objects answer the same)",
    409: "The request conflicts with the current state (a name in use, a fixed setting)",
    410: "The object existed but has been erased",
    413: "The request body is over the size limit",
    422: "The input is not valid, or names something that does not exist here",
    429: "Too many attempts; `Retry-After` says when to try again",
    503: "The database cannot be reached, or stayed busy: nothing was changed; send the request"
    " again (after `Retry-After` when given)",
}


class FieldError(BaseModel):
    """Where and why one input was refused; the refused value itself is never echoed."""

    loc: list[str]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document; some refusals add members (`errors`, per-lock status)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "not-found",
                    "title": "No such resource",
                    "status": 404,
                    "detail": "/api/v1/properties/8f14e45f-ceea-467f-a9c2-3b2b5f0d1a77",
                },
                {
                    "type": PROBLEM_BASE + "validation",
                    "title": "The request is not valid",
                    "status": 422,
                    "detail": "see `errors` for each field",
                    "errors": [
                        {"loc": ["body", "label"], "msg": "Field required", "type": "missing"}
                    ],
                },
            ]
        },
    )

    type: str = Field(
        pattern=r"^https://keyturn\.invalid/problems/[a-z0-9-]+$",
        description="Stable URI of the problem kind; clients branch on this, never on the text",
    )
    title: str = Field(description="Short summary of the problem kind, the same for every case")
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str | None = Field(default=None, description="What went wrong in this case")
    errors: list[FieldError] | None = Field(
        default=None, description="For `validation` problems: each refused input"
    )


def problem_responses(
    *statuses: int, meaning: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of a route's refusals, each an `application/problem+json` body.

    `meaning` replaces the API-wide description of a status where the route can say more.
    """
    said = {**_MEANINGS, **(meaning or {})}
    return {
        status: {
            "description": said.get(status) or HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
        }
        for status in statuses
    }


# The refusals of any route behind `requires(...)` with a body or parameters.
GUARDED = problem_responses(401, 403, 404, 422)


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


async def answer_refusal(_request: Request, refusal: Refusal) -> JSONResponse:
    """The handler of every Refusal, installed once by the app factory."""
    return problem(
        refusal.status,
        refusal.kind,
        refusal.title,
        refusal.detail,
        headers=refusal.headers,
        extra=refusal.members,
    )
