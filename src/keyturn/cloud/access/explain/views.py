"""HTTP routes of explain and access review: why a person opens a door or not, who can.

Both read what the door's lock holds and answer as its rules core decides; an access review,
which lists everyone at a door, is audited as a disclosure of people's access rights.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from keyturn.cloud.access.explain import service
from keyturn.cloud.access.explain.schemas import AccessReviewOut, ExplanationOut
from keyturn.cloud.auth.deps import Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.fields import AwareInstant, Id
from keyturn.cloud.problems import GUARDED

router = APIRouter(prefix="/api/v1", tags=["access"], responses=GUARDED)

At = Annotated[
    AwareInstant | None,
    Query(description="RFC 3339 with offset; the instant asked about (default: now)"),
]


@router.get("/properties/{property_id}/explain", response_model=ExplanationOut)
def explain(
    property_id: str,
    person: Annotated[Id, Query(description="The person asked about")],
    door: Annotated[Id, Query(description="The door asked about")],
    _principal: Annotated[Principal, requires(Action.ACCESS_REVIEW)],
    db: Db,
    now: Now,
    master_key: MasterKey,
    at: At = None,
) -> ExplanationOut:
    """Would the person's credentials open the door at `at`, and why, step by step.

    Each credential is decided by the same rules core as the lock, on the access list the
    door's lock holds; `lock` says which version that is and whether it is the newest.
    """
    answer = service.explain(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person,
        door_id=door,
        at=at or now,
        now=now,
    )
    return ExplanationOut.model_validate(_plain(answer))


@router.get(
    "/properties/{property_id}/doors/{door_id}/access-review", response_model=AccessReviewOut
)
def access_review(
    property_id: str,
    door_id: str,
    principal: Annotated[Principal, requires(Action.ACCESS_REVIEW)],
    db: Db,
    now: Now,
    master_key: MasterKey,
    at: At = None,
) -> AccessReviewOut:
    """Everyone who can open the door at `at`, and through which key and credential."""
    review = service.access_review(
        session=db,
        master_key=master_key,
        property_id=property_id,
        door_id=door_id,
        at=at or now,
        now=now,
        viewer_id=principal.person_id,
    )
    db.commit()
    return AccessReviewOut.model_validate(asdict(review))


def _plain(answer: service.Explanation) -> dict[str, object]:
    """The explanation with its computed fields, as the response body is shaped."""
    return {
        **asdict(answer),
        "opens": answer.opens,
        "summary": answer.summary,
        "credentials": [
            {**asdict(credential), "opens": credential.opens} for credential in answer.credentials
        ],
    }
