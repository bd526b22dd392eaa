from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from keyturn.rules.photos import can_view_photo, should_take_photo
from keyturn.rules.types import CredentialType, DoorKind
from keyturn.rules.visibility import EventFacts, ResidentPeriod, Viewer

DOORCODES = [kind for kind in CredentialType if kind.is_doorcode]
OTHER_DOORS = [DoorKind.ENTRANCE, DoorKind.COMMON, DoorKind.SERVICE]
ALL_CASES = list(itertools.product(DoorKind, CredentialType, [True, False]))


def test_rule_p1_no_camera_no_photo() -> None:
    for door_kind, kind, granted in ALL_CASES:
        assert not should_take_photo(door_kind, False, kind, granted)


def test_rule_p2_residence_door_photographs_failed_doorcodes_and_single_day_entries() -> None:
    taken = {
        (kind, granted)
        for _, kind, granted in ALL_CASES
        if should_take_photo(DoorKind.RESIDENCE, True, kind, granted)
    }
    failed_codes = {(kind, False) for kind in DOORCODES}
    assert taken == failed_codes | {(CredentialType.SINGLE_DAY_CODE, True)}


@pytest.mark.parametrize(
    "kind",
    [
        CredentialType.MOBILE_KEY,
        CredentialType.MECHANICAL_KEY,
        CredentialType.KEYCARD,
        CredentialType.PERSONAL_DOORCODE,
        CredentialType.ONE_TIME_CODE,
    ],
)
def test_rule_p2_no_photo_on_other_residence_entries(kind: CredentialType) -> None:
    assert not should_take_photo(DoorKind.RESIDENCE, True, kind, True)


@pytest.mark.parametrize("door_kind", OTHER_DOORS)
def test_rule_p3_shared_doors_photograph_mobile_and_doorcode_entries_and_failed_codes(
    door_kind: DoorKind,
) -> None:
    taken = {
        (kind, granted)
        for _, kind, granted in ALL_CASES
        if should_take_photo(door_kind, True, kind, granted)
    }
    expected = (
        {(CredentialType.MOBILE_KEY, True)}
        | {(kind, True) for kind in DOORCODES}
        | {(kind, False) for kind in DOORCODES}
    )
    assert taken == expected


def test_rule_p3_never_on_mechanical_key_or_keycard() -> None:
    for door_kind in DoorKind:
        for granted in (True, False):
            assert not should_take_photo(door_kind, True, CredentialType.MECHANICAL_KEY, granted)
            assert not should_take_photo(door_kind, True, CredentialType.KEYCARD, granted)


T = datetime(2026, 5, 1, 12, tzinfo=UTC)


def event(
    door_kind: DoorKind, door_id: str, subject_id: str | None = "guest", at: datetime = T
) -> EventFacts:
    return EventFacts(
        property_id="prop-1",
        door_id=door_id,
        door_kind=door_kind,
        subject_id=subject_id,
        granted_by="resident-a",
        by_resident=False,
        occurred_at=at,
    )


def living_at(
    person_id: str, door_id: str, since: datetime, until: datetime | None = None
) -> Viewer:
    return Viewer(person_id, resident_periods=frozenset({ResidentPeriod(door_id, since, until)}))


RESIDENT = living_at("resident-a", "unit-1", T - timedelta(days=30))
NEIGHBOUR = living_at("resident-b", "unit-2", T - timedelta(days=30))
SECURITY = Viewer("mgr-s", security_viewer_property_ids=frozenset({"prop-1"}))
MANAGER = Viewer("mgr-m", managed_property_ids=frozenset({"prop-1"}))
GUEST = Viewer("guest")


def test_rule_p4_residence_photo_for_its_residents_and_security_viewers_only() -> None:
    photo = event(DoorKind.RESIDENCE, "unit-1")
    assert can_view_photo(RESIDENT, photo, for_data_request=False)
    assert can_view_photo(SECURITY, photo, for_data_request=False)
    assert not can_view_photo(NEIGHBOUR, photo, for_data_request=False)
    assert not can_view_photo(MANAGER, photo, for_data_request=False)
    assert not can_view_photo(GUEST, photo, for_data_request=True)


def test_rule_p4_residence_photo_only_for_who_held_resident_status_when_it_was_taken() -> None:
    photo = event(DoorKind.RESIDENCE, "unit-1")
    later = living_at("tenant-new", "unit-1", T + timedelta(seconds=1))
    moved_out = living_at("tenant-old", "unit-1", T - timedelta(days=90), T)
    then = living_at("tenant-then", "unit-1", T - timedelta(days=90), T + timedelta(seconds=1))
    assert not can_view_photo(later, photo, for_data_request=False)
    assert not can_view_photo(moved_out, photo, for_data_request=True)
    assert can_view_photo(then, photo, for_data_request=False)
    assert can_view_photo(later, event(DoorKind.RESIDENCE, "unit-1", at=T + timedelta(1)), False)


def test_rule_p4_shared_door_photo_for_security_viewers_and_its_subject_on_request() -> None:
    photo = event(DoorKind.ENTRANCE, "lobby")
    assert can_view_photo(SECURITY, photo, for_data_request=False)
    assert not can_view_photo(MANAGER, photo, for_data_request=False)
    assert not can_view_photo(RESIDENT, photo, for_data_request=False)
    assert not can_view_photo(GUEST, photo, for_data_request=False)
    assert can_view_photo(GUEST, photo, for_data_request=True)
    assert not can_view_photo(GUEST, event(DoorKind.ENTRANCE, "lobby", None), True)


def test_rule_p4_security_viewer_of_another_property_sees_nothing() -> None:
    other = Viewer("mgr-x", security_viewer_property_ids=frozenset({"prop-2"}))
    assert not can_view_photo(other, event(DoorKind.ENTRANCE, "lobby"), for_data_request=True)
    assert not can_view_photo(other, event(DoorKind.RESIDENCE, "unit-1"), for_data_request=True)
