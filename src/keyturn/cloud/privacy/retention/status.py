"""What a property's retention looks like right now: its policy, its next deadlines and its
recorded log loss (R4), for the retention route and `keyturn retention show`.

Everything here only reads; log gaps are reported exactly as recorded, never filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Device, Door, Event, LogGap, Property
from keyturn.cloud.privacy.retention.policies import PropertyRetention, retention_of


@dataclass(frozen=True, slots=True)
class RetentionStatus:
    """A property's retention as of `now`, with the next instants the job will act."""

    property_id: str
    name: str
    retention: PropertyRetention
    next_anonymisation_at: datetime | None
    next_deletion_at: datetime | None
    log_gap_count: int


def status_of(session: Session, prop: Property, now: datetime) -> RetentionStatus:
    """The policy and deadlines of one property: the oldest events decide the next runs."""
    retention = retention_of(prop, now)
    oldest_live = session.scalar(
        select(func.min(Event.occurred_at)).where(
            Event.property_id == prop.id, Event.anonymised_at.is_(None)
        )
    )
    oldest = session.scalar(select(func.min(Event.occurred_at)).where(Event.property_id == prop.id))
    period = retention.policy.period
    return RetentionStatus(
        property_id=prop.id,
        name=prop.name,
        retention=retention,
        next_anonymisation_at=None if oldest_live is None else oldest_live + period,
        next_deletion_at=None
        if oldest is None
        else oldest + period + timedelta(days=retention.keep_anonymous_days),
        log_gap_count=session.scalar(select(func.count()).select_from(gaps_of(prop.id).subquery()))
        or 0,
    )


def gaps_of(property_id: str) -> Select[LogGap]:
    """The log-loss intervals recorded for the property's locks (R4), in no set order."""
    return (
        select(LogGap)
        .join(Device, Device.id == LogGap.device_id)
        .where(Device.property_id == property_id)
    )


GAPS_SHOWN = 200


@dataclass(frozen=True, slots=True)
class GapShown:
    """One recorded log-loss interval as a page shows it: its door by name."""

    door_name: str | None
    from_seq: int
    to_seq: int | None
    detected_at: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class RetentionShown:
    """A property's retention and its most recent log gaps, for the portal's page."""

    status: RetentionStatus
    gaps: list[GapShown]


def retention_shown(*, session: Session, property_id: str, now: datetime) -> RetentionShown:
    """The property's retention as `status_of` gives it, with its latest log gaps named by door
    (at most GAPS_SHOWN of them, newest first; `log_gap_count` says how many there are)."""
    status = status_of(session, session.get_one(Property, property_id), now)
    rows = session.execute(
        gaps_of(property_id)
        .add_columns(Door.name)
        .outerjoin(Door, Door.id == func.coalesce(LogGap.door_id, Device.door_id))
        .order_by(LogGap.detected_at.desc(), LogGap.id)
        .limit(GAPS_SHOWN)
    ).all()
    gaps = [
        GapShown(
            door_name=door_name,
            from_seq=gap.from_seq,
            to_seq=gap.to_seq,
            detected_at=gap.detected_at,
            note=gap.note,
        )
        for gap, door_name in rows
    ]
    return RetentionShown(status=status, gaps=gaps)
