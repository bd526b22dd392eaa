"""Bodies of the retention routes: a property's policy and deadlines, the override a portfolio
manager sets, and its log gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from keyturn.cloud.fields import (
    EXAMPLE_DEVICE_ID,
    EXAMPLE_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    example_config,
    strict_config,
)

EXAMPLE_GAP: dict[str, Any] = {
    "device_id": EXAMPLE_DEVICE_ID,
    "door_id": EXAMPLE_ID,
    "from_seq": 120,
    "to_seq": 131,
    "detected_at": EXAMPLE_TIME,
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

    model_config = example_config(
        {
            "property_id": EXAMPLE_PROPERTY_ID,
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


class RetentionOverrideIn(BaseModel):
    """The property's own retention in days, or null for the jurisdiction's."""

    model_config = strict_config({"override_days": 30})

    override_days: Annotated[int, Field(strict=True)] | None = Field(
        description="Days to keep access events: 1 up to the jurisdiction's limit; null resets"
    )
