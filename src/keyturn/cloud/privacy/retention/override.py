"""A property's retention override: shorten the jurisdiction's retention, or go back to it.

The law's limit is checked by `rules.retention.policy_for`; a refused override changes
nothing, and every change is audited with the days before and after.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from keyturn.cloud.errors import Refusal
from keyturn.cloud.models import Property
from keyturn.cloud.privacy import audit
from keyturn.cloud.privacy.retention.policies import set_retention_override
from keyturn.cloud.privacy.retention.status import RetentionStatus, status_of
from keyturn.rules.errors import InvalidRetention

ACTION = "retention.override"


class RetentionOverrideRefused(Refusal):
    """An override longer than the jurisdiction allows, or shorter than one day."""

    status = 422
    kind = "retention-refused"
    title = "This retention is not allowed at this property"


def change_override(
    *,
    session: Session,
    property_id: str,
    override_days: int | None,
    actor_person_id: str | None,
    now: datetime,
) -> RetentionStatus:
    """Set the property's retention to `override_days` (None: the jurisdiction's own) and
    return its retention as it now stands.

    `actor_person_id` None means the operator at the CLI. RetentionOverrideRefused leaves
    the property as it was.
    """
    prop = session.get_one(Property, property_id)
    before = prop.retention_days_override
    try:
        set_retention_override(prop, override_days)
    except InvalidRetention as exc:
        raise RetentionOverrideRefused(str(exc)) from None
    audit.record(
        session,
        now=now,
        actor_person_id=actor_person_id,
        action=ACTION,
        object_type="property",
        object_id=prop.id,
        property_id=prop.id,
        detail={
            "before_days": before,
            "after_days": override_days,
            "jurisdiction": prop.jurisdiction,
        },
    )
    return status_of(session, prop, now)
