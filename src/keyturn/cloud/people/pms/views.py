"""HTTP routes for the PMS sync's reviews: list the partial matches, and decide one.

The sync itself runs from the CLI (`keyturn pms sync`) and the server's scheduled job.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from keyturn.cloud.auth.deps import Db, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import PmsReview
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, page_list
from keyturn.cloud.people.pms import service
from keyturn.cloud.people.pms.schemas import ReviewDecision, ReviewOut
from keyturn.cloud.problems import problem_responses

router = APIRouter()


def _review_out(review: PmsReview) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        person_id=review.person_id,
        email=review.email,
        pms_name=review.pms_name,
        known_name=review.known_name,
        unit=review.unit_label,
        state=review.state.value,
        created_at=review.created_at,
        decided_at=review.decided_at,
    )


@router.get(
    "/properties/{property_id}/pms/reviews",
    response_model=Page[ReviewOut],
    responses=problem_responses(400, meaning={400: "The cursor names no review of this list"}),
)
def list_reviews(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[ReviewOut]:
    """The PMS partial matches of this property (same email, another name), waiting first."""
    reviews = [_review_out(r) for r in service.list_reviews(session=db, property_id=property_id)]
    return page_list(reviews, lambda review: review.id, cursor, limit)


@router.post("/properties/{property_id}/pms/reviews/{review_id}", response_model=ReviewOut)
def decide_review(
    property_id: str,
    review_id: str,
    body: ReviewDecision,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
) -> ReviewOut:
    """Accept (the next sync moves the known person in) or reject a partial match."""
    review = service.decide_review(
        session=db,
        property_id=property_id,
        review_id=review_id,
        accept=body.decision == "accept",
        by=principal.person_id,
        now=now,
    )
    db.commit()
    return _review_out(review)
