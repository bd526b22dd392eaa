"""The read-only retention route: a property's policy, its limit, its next deadlines and its
recorded log-loss intervals (R4), for the property's managers.

Changing retention is not done here; the job applies it and this route only shows it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from keyturn.cloud.auth.deps import Db, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.privacy.retention_status import status_of
from keyturn.cloud.properties.models import Property

router = APIRouter(prefix="/api/v1", tags=["privacy"])


class LogGapOut(BaseModel):
    device_id: str
    door_id: str | None
    from_seq: int
    to_seq: int | None
    detected_at: datetime
    note: str | None


class RetentionOut(BaseModel):
    """Days are the policy in force; `limit_days` is the most the jurisdiction allows."""

    property_id: str
    jurisdiction: str
    retention_days: int
    limit_days: int
    override_days: int | None
    override_refused: bool
    hidden_past_policy: bool
    anonymous_kept_days: int
    anonymise_before: datetime
    delete_before: datetime
    reference_data_before: datetime
    next_anonymisation_at: datetime | None
    next_deletion_at: datetime | None
    log_gaps: list[LogGapOut]


@router.get("/properties/{property_id}/retention", response_model=RetentionOut)
def read_retention(
    property_id: str,
    principal: Annotated[Principal, requires(Action.RETENTION_READ)],
    db: Db,
    now: Now,
) -> RetentionOut:
    """The property's retention policy, the instants the job works to, and its log gaps."""
    status = status_of(db, db.get_one(Property, property_id), now)
    retention = status.retention
    return RetentionOut(
        property_id=property_id,
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
        log_gaps=[LogGapOut(**asdict(gap)) for gap in status.log_gaps],
    )
