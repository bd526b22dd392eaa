"""The read-only retention routes: a property's policy, its limit and its next deadlines, and
its recorded log-loss intervals (R4), a page at a time, for the property's managers.

Changing retention is not done here; the job applies it and this route only shows it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from keyturn.cloud.auth.deps import Db, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import LogGap, Property
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.privacy.retention.status import gaps_of, status_of
from keyturn.cloud.problems import GUARDED

router = APIRouter(prefix="/api/v1", tags=["privacy"], responses=GUARDED)


EXAMPLE_GAP: dict[str, Any] = {
    "device_id": "6f1c0a4e-0000-4000-8000-000000000006",
    "door_id": "6f1c0a4e-0000-4000-8000-000000000001",
    "from_seq": 120,
    "to_seq": 131,
    "detected_at": "2026-03-02T09:00:00Z",
    "note": "the lock was retired before uploading these entries",
}


class LogGapOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE_GAP]})

    device_id: str
    door_id: str | None
    from_seq: int
    to_seq: int | None
    detected_at: datetime
    note: str | None


class RetentionOut(BaseModel):
    """Days are the policy in force; `limit_days` is the most the jurisdiction allows."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "property_id": "6f1c0a4e-0000-4000-8000-000000000005",
                    "jurisdiction": "US-NY-NYC",
                    "retention_days": 30,
                    "limit_days": 30,
                    "override_days": None,
                    "override_refused": False,
                    "hidden_past_policy": True,
                    "anonymous_kept_days": 365,
                    "anonymise_before": "2026-01-31T09:00:00Z",
                    "delete_before": "2025-03-02T09:00:00Z",
                    "reference_data_before": "2025-03-02T09:00:00Z",
                    "next_anonymisation_at": "2026-03-03T03:00:00Z",
                    "next_deletion_at": "2026-03-03T03:00:00Z",
                    "log_gap_count": 1,
                }
            ]
        }
    )

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
    log_gap_count: int = Field(description="Log-loss intervals recorded; listed at …/log-gaps")


@router.get("/properties/{property_id}/retention", response_model=RetentionOut)
def read_retention(
    property_id: str,
    principal: Annotated[Principal, requires(Action.RETENTION_READ)],
    db: Db,
    now: Now,
) -> RetentionOut:
    """The property's retention policy, the instants the job works to, and its log-gap count."""
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
