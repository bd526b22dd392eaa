"""A property's retention in cloud terms: its policy, the instants the job works to, and the
condition that keeps expired events out of every history read.

The numbers come from `keyturn.rules.retention`; this module only adds what the cloud decides
on top of them: when anonymous rows are deleted and when former holders' credentials go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, true
from sqlalchemy.orm import Session

from keyturn.cloud.models import Event, Property
from keyturn.rules.errors import RetentionTooLong
from keyturn.rules.retention import (
    DEFAULT_JURISDICTION,
    JURISDICTION_LIMITS,
    RetentionPolicy,
    cutoff,
    policy_for,
)

NYC = "US-NY-NYC"
# Jurisdictions where nothing past the policy may be shown to anyone (R2): rows past the
# cutoff are deleted, and hidden from reads in the meantime.
HIDDEN_PAST_POLICY: frozenset[str] = frozenset({NYC})
# How long an anonymised event stays before its row is deleted. Elsewhere anonymous door
# traffic stays useful for a year of comparisons; in NYC it may never be shown, so it goes.
ANONYMOUS_KEEP_DAYS: Mapping[str, int] = MappingProxyType({DEFAULT_JURISDICTION: 365, NYC: 0})
# Person-level reference data (a phone) is not tied to one property: the strictest clock.
SHORTEST_LIMIT_DAYS = min(JURISDICTION_LIMITS.values())


@dataclass(frozen=True, slots=True)
class PropertyRetention:
    """A property's policy and the instants derived from it at one `now`.

    `override_refused` is set when a stored override is longer than the jurisdiction allows
    (the jurisdiction changed after it was set): the limit applies instead.
    """

    policy: RetentionPolicy
    override_days: int | None
    override_refused: bool
    anonymise_before: datetime
    delete_before: datetime
    reference_before: datetime

    @property
    def hidden_past_policy(self) -> bool:
        return self.policy.jurisdiction in HIDDEN_PAST_POLICY

    @property
    def keep_anonymous_days(self) -> int:
        return anonymous_keep_days(self.policy.jurisdiction)


def anonymous_keep_days(jurisdiction: str) -> int:
    return ANONYMOUS_KEEP_DAYS.get(jurisdiction, ANONYMOUS_KEEP_DAYS[DEFAULT_JURISDICTION])


def effective_policy(jurisdiction: str, override_days: int | None) -> tuple[RetentionPolicy, bool]:
    """The policy that applies, and whether a stored override had to be refused for it."""
    try:
        return policy_for(jurisdiction, override_days), False
    except RetentionTooLong:
        return policy_for(jurisdiction), True


def retention_of(prop: Property, now: datetime) -> PropertyRetention:
    """Everything the job and the retention route need to know about one property."""
    return retention_for(prop.jurisdiction, prop.retention_days_override, now)


def retention_for(jurisdiction: str, override_days: int | None, now: datetime) -> PropertyRetention:
    policy, refused = effective_policy(jurisdiction, override_days)
    anonymise_before = cutoff(now, policy)
    return PropertyRetention(
        policy=policy,
        override_days=override_days,
        override_refused=refused,
        anonymise_before=anonymise_before,
        delete_before=anonymise_before - timedelta(days=anonymous_keep_days(jurisdiction)),
        # A former holder's grants and credentials live as long as the events they explain.
        reference_before=anonymise_before,
    )


def set_retention_override(prop: Property, days: int | None) -> RetentionPolicy:
    """Shorten (or, with None, reset) a property's retention; longer than the law raises."""
    policy = policy_for(prop.jurisdiction, days)
    prop.retention_days_override = days
    return policy


_HIDING_POLICY_OF = select(Property.jurisdiction, Property.retention_days_override).where(
    Property.id == bindparam("property"), Property.jurisdiction.in_(sorted(HIDDEN_PAST_POLICY))
)


def hidden_before(session: Session, now: datetime, property_id: str) -> datetime | None:
    """The instant before which the property's events are hidden from reads (R2), if any.

    For one property this is `shown_events` as a value: a read of that property's events
    keeps those at or after it. The statement is built once, as every history read runs it.
    """
    found = session.execute(_HIDING_POLICY_OF, {"property": property_id}).first()
    if found is None:
        return None
    policy, _ = effective_policy(found.jurisdiction, found.retention_days_override)
    return cutoff(now, policy)


def shown_events(
    session: Session, now: datetime, property_id: str | None = None
) -> ColumnElement[bool]:
    """The condition that hides events past the policy where the law says nothing older is
    shown (R2); history reads add it to the visibility filter.

    The job deletes those events, but it runs on a schedule, so reads must not depend on it.
    """
    query = select(Property.id, Property.jurisdiction, Property.retention_days_override).where(
        Property.jurisdiction.in_(sorted(HIDDEN_PAST_POLICY))
    )
    if property_id is not None:
        query = query.where(Property.id == property_id)
    by_cutoff: dict[datetime, list[str]] = {}
    for pid, jurisdiction, override in session.execute(query):
        policy, _ = effective_policy(jurisdiction, override)
        by_cutoff.setdefault(cutoff(now, policy), []).append(pid)
    if not by_cutoff:
        return true()
    return and_(
        *(
            or_(Event.property_id.not_in(ids), Event.occurred_at >= since)
            for since, ids in sorted(by_cutoff.items())
        )
    )
