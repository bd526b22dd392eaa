from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyturn.rules.errors import InvalidRetention, NaiveDatetime, RetentionTooLong
from keyturn.rules.retention import (
    EventRecord,
    anonymise,
    cutoff,
    expires_at,
    is_expired,
    policy_for,
)
from keyturn.rules.types import CredentialType, DoorKind, Reason

GENERATED = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)


def test_rule_r1_events_outside_nyc_expire_after_two_years() -> None:
    policy = policy_for("default")
    assert policy.days == 730
    deadline = expires_at(GENERATED, policy)
    assert deadline == GENERATED + timedelta(days=730)
    assert not is_expired(GENERATED, deadline - timedelta(seconds=1), policy)
    assert is_expired(GENERATED, deadline, policy)


def test_rule_r1_unlisted_jurisdictions_get_the_default_limit() -> None:
    policy = policy_for("US-CA")
    assert (policy.jurisdiction, policy.days, policy.limit_days) == ("US-CA", 730, 730)


def test_rule_r2_nyc_events_expire_after_90_days() -> None:
    policy = policy_for("US-NY-NYC")
    assert policy.days == 90
    assert is_expired(GENERATED, GENERATED + timedelta(days=90), policy)
    assert not is_expired(GENERATED, GENERATED + timedelta(days=89, hours=23), policy)
    now = GENERATED + timedelta(days=100)
    assert cutoff(now, policy) == GENERATED + timedelta(days=10)


def test_rule_r2_property_override_may_shorten_but_never_lengthen() -> None:
    assert policy_for("US-NY-NYC", 30).days == 30
    assert policy_for("default", 365).days == 365
    with pytest.raises(RetentionTooLong, match="90"):
        policy_for("US-NY-NYC", 91)
    with pytest.raises(RetentionTooLong):
        policy_for("default", 731)
    with pytest.raises(InvalidRetention):
        policy_for("default", 0)


def test_retention_refuses_naive_times() -> None:
    with pytest.raises(NaiveDatetime):
        expires_at(datetime(2026, 1, 1), policy_for("default"))


def record() -> EventRecord:
    return EventRecord(
        property_id="prop-1",
        door_id="unit-1",
        door_kind=DoorKind.RESIDENCE,
        occurred_at=GENERATED,
        reason=Reason.GRANTED,
        credential_type=CredentialType.SINGLE_DAY_CODE,
        by_resident=False,
        subject_id="subj-1",
        granted_by="person-1",
        credential_id="cred-1",
        photo_id="photo-1",
    )


def test_rule_r3_anonymising_drops_every_link_to_a_person() -> None:
    anonymous = anonymise(record())
    assert anonymous.subject_id is None
    assert anonymous.granted_by is None
    assert anonymous.credential_id is None
    assert anonymous.photo_id is None


def test_rule_r3_anonymising_keeps_door_time_outcome_and_credential_type() -> None:
    original = record()
    anonymous = anonymise(original)
    kept = ("property_id", "door_id", "door_kind", "occurred_at", "reason", "credential_type")
    assert all(getattr(anonymous, name) == getattr(original, name) for name in kept)
    assert anonymous.granted
    assert anonymous.by_resident == original.by_resident
