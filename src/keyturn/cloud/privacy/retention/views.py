"""The retention routes: a property's policy, its limit and its next deadlines, its override
(set by the portfolio manager, never longer than the law allows), and its recorded log-loss
intervals (R4), a page at a time.

The job applies retention; these routes only show it and change the override.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from keyturn.cloud.auth.deps import Db, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import LogGap, Property
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.privacy.retention.override import change_override
from keyturn.cloud.privacy.retention.schemas import LogGapOut, RetentionOut, RetentionOverrideIn
from keyturn.cloud.privacy.retention.status import RetentionStatus, gaps_of, status_of
from keyturn.cloud.problems import GUARDED, problem_responses

router = APIRouter(prefix="/api/v1", tags=["privacy"], responses=GUARDED)


@router.get("/properties/{property_id}/retention", response_model=RetentionOut)
def read_retention(
    property_id: str,
    principal: Annotated[Principal, requires(Action.RETENTION_READ)],
    db: Db,
    now: Now,
) -> RetentionOut:
    """The property's retention policy, the instants the job works to, and its log-gap count."""
    return _out(status_of(db, db.get_one(Property, property_id), now))


@router.put(
    "/properties/{property_id}/retention",
    response_model=RetentionOut,
    responses=problem_responses(
        422,
        meaning={422: "The override is longer than the jurisdiction allows, or under one day"},
    ),
)
def set_retention(
    property_id: str,
    body: RetentionOverrideIn,
    principal: Annotated[Principal, requires(Action.RETENTION_MANAGE)],
    db: Db,
    now: Now,
) -> RetentionOut:
    """Shorten the property's retention to `override_days`, or with null go back to the
    jurisdiction's; longer than the law allows is refused and nothing changes. Audited."""
    status = change_override(
        session=db,
        property_id=property_id,
        override_days=body.override_days,
        actor_person_id=principal.person_id,
        now=now,
    )
    db.commit()
    return _out(status)


def _out(status: RetentionStatus) -> RetentionOut:
    retention = status.retention
    return RetentionOut(
        property_id=status.property_id,
        jurisdiction=retention.policy.jurisdiction,
        retention_days=retention.policy.days,
        limit_days=retention.policy.limit_days,
        override_days=retention.override_days,
        override_refused=retention.override_refused,
        hidden_past_policy=retention.hidden_past_policy,
        anonymous_kept_days=retention.keep_anonymous_days,
        anonymise_before=retention.anonymise_before,
        delete_before=retention.delete_before,
        reference_data_before=retention.reference_before,
        next_anonymisation_at=status.next_anonymisation_at,
        next_deletion_at=status.next_deletion_at,
        log_gap_count=status.log_gap_count,
    )


@router.get("/properties/{property_id}/log-gaps", response_model=Page[LogGapOut])
def list_log_gaps(
    property_id: str,
    principal: Annotated[Principal, requires(Action.RETENTION_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[LogGapOut]:
    """The log-loss intervals recorded for the property's locks (R4): kept, never filled in."""
    return paged(db, gaps_of(property_id), LogGap.id, cursor, limit, LogGapOut.model_validate)
