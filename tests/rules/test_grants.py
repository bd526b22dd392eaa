from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.rules.errors import InvalidGrant, NaiveDatetime, ResidentKeyDoor, SelfResidentStatus
from keyturn.rules.grants import (
    courier_doors_allowed,
    resident_status_start,
    validate_courier_doors,
    validate_doors_added,
    validate_guest_window,
)
from keyturn.rules.types import DoorKind

NOW = datetime(2026, 5, 11, 12, 0, tzinfo=UTC)


def test_rule_a5_guest_invitation_may_start_up_to_a_year_ahead() -> None:
    validate_guest_window(NOW + timedelta(days=1), None, NOW)
    validate_guest_window(datetime(2027, 5, 11, 23, 0, tzinfo=UTC), None, NOW)
    validate_guest_window(NOW - timedelta(hours=1), NOW + timedelta(days=3), NOW)
    with pytest.raises(InvalidGrant, match="one year"):
        validate_guest_window(NOW + timedelta(days=367), None, NOW)


def test_rule_a5_guest_invitation_must_end_after_it_starts_and_in_the_future() -> None:
    with pytest.raises(InvalidGrant):
        validate_guest_window(NOW + timedelta(days=2), NOW + timedelta(days=1), NOW)
    with pytest.raises(InvalidGrant):
        validate_guest_window(NOW - timedelta(days=2), NOW - timedelta(days=1), NOW)
    with pytest.raises(NaiveDatetime):
        validate_guest_window(datetime(2026, 6, 1), None, NOW)


def test_rule_a8_courier_doors_never_include_a_residence_door() -> None:
    assert courier_doors_allowed([DoorKind.ENTRANCE, DoorKind.COMMON, DoorKind.SERVICE])
    assert courier_doors_allowed([])
    assert not courier_doors_allowed([DoorKind.ENTRANCE, DoorKind.RESIDENCE])


def test_rule_a8_courier_key_with_residence_doors_is_refused_naming_them() -> None:
    validate_courier_doors({"lobby": DoorKind.ENTRANCE, "parcels": DoorKind.COMMON})
    with pytest.raises(InvalidGrant, match="unit-4, unit-7"):
        validate_courier_doors(
            {"lobby": DoorKind.ENTRANCE, "unit-7": DoorKind.RESIDENCE, "unit-4": DoorKind.RESIDENCE}
        )


def test_rule_v2_nobody_gives_themself_resident_status() -> None:
    with pytest.raises(SelfResidentStatus, match="themself"):
        resident_status_start(giver_id="m", holder_id="m", starts_at=NOW, now=NOW)
    assert resident_status_start(giver_id="m", holder_id="r", starts_at=NOW, now=NOW) == NOW


@given(offset=st.integers(-(10**6), 10**6))
def test_rule_v2_resident_status_begins_no_earlier_than_it_is_given(offset: int) -> None:
    asked = NOW + timedelta(minutes=offset)
    start = resident_status_start(giver_id="m", holder_id="r", starts_at=asked, now=NOW)
    assert start == max(asked, NOW)


def test_rule_v2_a_key_with_resident_status_gains_no_residence_door() -> None:
    added = {"unit-9": DoorKind.RESIDENCE, "gym": DoorKind.COMMON}
    with pytest.raises(ResidentKeyDoor, match="unit-9"):
        validate_doors_added(added, carries_resident_status=True)
    validate_doors_added({"gym": DoorKind.COMMON}, carries_resident_status=True)
    validate_doors_added(added, carries_resident_status=False)
