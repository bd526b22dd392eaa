"""How long access events and their photos are kept (R1, R2) and what anonymising leaves of
an event (R3).

The table of jurisdiction limits is the one place those numbers live; a property may keep
events for less time than its jurisdiction allows, never more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from keyturn.rules.errors import InvalidRetention, RetentionTooLong
from keyturn.rules.schedule import require_aware
from keyturn.rules.types import CredentialType, DoorKind, Reason

DEFAULT_JURISDICTION = "default"

# Longest retention, in days, of access events and their photos per jurisdiction.
JURISDICTION_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        DEFAULT_JURISDICTION: 730,
        "US-NY-NYC": 90,
    }
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """A property's retention: `days` for events and photos, at most `limit_days`."""

    jurisdiction: str
    days: int
    limit_days: int

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)


def policy_for(jurisdiction: str, override_days: int | None = None) -> RetentionPolicy:
    """The retention of a property in `jurisdiction`, optionally shortened by the property.

    A jurisdiction missing from the table gets the default limit (R1 applies everywhere
    outside New York City). An override longer than the limit raises RetentionTooLong.
    """
    limit = JURISDICTION_LIMITS.get(jurisdiction, JURISDICTION_LIMITS[DEFAULT_JURISDICTION])
    if override_days is None:
        return RetentionPolicy(jurisdiction, limit, limit)
    if override_days < 1:
        raise InvalidRetention(f"retention must be at least one day, got {override_days}")
    if override_days > limit:
        raise RetentionTooLong(
            f"{jurisdiction} allows at most {limit} days of retention, not {override_days}"
        )
    return RetentionPolicy(jurisdiction, override_days, limit)


def expires_at(generated_at: datetime, policy: RetentionPolicy) -> datetime:
    """The instant from which an event (and its photo) must be deleted or anonymised."""
    require_aware(generated_at, "generated_at")
    return generated_at + policy.period


def is_expired(generated_at: datetime, now: datetime, policy: RetentionPolicy) -> bool:
    require_aware(now, "now")
    return now >= expires_at(generated_at, policy)


def cutoff(now: datetime, policy: RetentionPolicy) -> datetime:
    """Events generated before this instant are expired: the bound for a query or a purge."""
    require_aware(now, "now")
    return now - policy.period


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An access event with every link to a person it may carry."""

    property_id: str
    door_id: str
    door_kind: DoorKind
    occurred_at: datetime
    reason: Reason
    credential_type: CredentialType
    by_resident: bool
    subject_id: str | None
    granted_by: str | None
    credential_id: str | None
    photo_id: str | None

    @property
    def granted(self) -> bool:
        return self.reason == Reason.GRANTED


def anonymise(event: EventRecord) -> EventRecord:
    """The event without its links to people (R3): door, time, outcome and credential type
    stay; subject, grantor, credential and photo go.

    `by_resident` stays too: it names no one, and clearing it would expose the times a
    unit's residents come and go to the property's managers (V1).
    """
    return replace(event, subject_id=None, granted_by=None, credential_id=None, photo_id=None)
