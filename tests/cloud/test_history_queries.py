"""Listing history: cursor pages cover every visible event once, newest first, with filters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from factories import make_door, make_person, make_property, record_event
from keyturn.cloud.errors import BadCursor
from keyturn.cloud.history.queries import (
    EventFilter,
    decode_cursor,
    export_csv,
    list_events,
)
from keyturn.cloud.models import Door, Event
from keyturn.rules.types import CredentialType, DoorKind, Reason
from keyturn.rules.visibility import Viewer

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


@pytest.fixture
def stored(session: Session) -> tuple[Viewer, list[Event], Door, Door]:
    prop = make_property(session, portfolio_name="P", name="B", time_zone="UTC")
    entrance = make_door(session, property_id=prop.id, name="Entrance", kind=DoorKind.ENTRANCE)
    gym = make_door(session, property_id=prop.id, name="Gym", kind=DoorKind.COMMON)
    person = make_person(session, name="someone")
    events = [
        record_event(
            session,
            door=entrance if seq % 2 else gym,
            device_seq=seq,
            # Three events share each instant, so the cursor must break ties by id.
            occurred_at=T0 + timedelta(minutes=seq // 3),
            subject_id=person.id if seq % 5 == 0 else None,
            credential_type=CredentialType.KEYCARD if seq % 3 else CredentialType.MOBILE_KEY,
            reason=Reason.GRANTED if seq % 4 else Reason.UNKNOWN_CREDENTIAL,
        )
        for seq in range(23)
    ]
    manager = Viewer(person_id="manager", managed_property_ids=frozenset({prop.id}))
    return manager, events, entrance, gym


def _all_pages(session: Session, viewer: Viewer, filters: EventFilter, limit: int) -> list[Event]:
    seen: list[Event] = []
    cursor = None
    while True:
        page = list_events(session, viewer, filters, cursor=cursor, limit=limit)
        seen.extend(page.events)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 4, 7, 100])
def test_pages_cover_every_event_once_newest_first(
    session: Session, stored: tuple[Viewer, list[Event], Door, Door], limit: int
) -> None:
    viewer, events, _, _ = stored
    seen = _all_pages(session, viewer, EventFilter(), limit)
    assert sorted(e.id for e in seen) == sorted(e.id for e in events)
    keys = [(e.occurred_at, e.id) for e in seen]
    assert keys == sorted(keys, reverse=True)


def test_filters_narrow_the_result(
    session: Session, stored: tuple[Viewer, list[Event], Door, Door]
) -> None:
    viewer, events, entrance, _ = stored
    at_entrance = _all_pages(session, viewer, EventFilter(door_id=entrance.id), 5)
    assert {e.id for e in at_entrance} == {e.id for e in events if e.door_id == entrance.id}
    denied = _all_pages(session, viewer, EventFilter(granted=False), 5)
    assert {e.id for e in denied} == {e.id for e in events if e.reason != Reason.GRANTED}
    window = EventFilter(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))
    in_window = {e.id for e in events if e.device_seq in range(6, 12)}
    assert {e.id for e in _all_pages(session, viewer, window, 5)} == in_window
    cards = _all_pages(session, viewer, EventFilter(credential_type=CredentialType.KEYCARD), 50)
    assert all(e.credential_type == CredentialType.KEYCARD for e in cards)
    assert len(cards) == sum(1 for e in events if e.credential_type == CredentialType.KEYCARD)


@pytest.mark.parametrize(
    "filters",
    [
        EventFilter(),
        EventFilter(granted=True),
        EventFilter(granted=False, credential_type=CredentialType.KEYCARD),
        EventFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=5)),
    ],
)
def test_a_property_read_matches_the_read_of_every_property(
    session: Session, stored: tuple[Viewer, list[Event], Door, Door], filters: EventFilter
) -> None:
    """A read bound to the property (prebuilt statement, retention as a value) shows what the
    general read shows when every event is at that property, page for page."""
    viewer, events, _, _ = stored
    everywhere = _all_pages(session, viewer, filters, 4)
    here = replace(filters, property_id=events[0].property_id)
    assert [e.id for e in _all_pages(session, viewer, here, 4)] == [e.id for e in everywhere]
    assert everywhere
    other = replace(filters, property_id="another-property")
    assert list(list_events(session, viewer, other).events) == []


def test_a_stranger_sees_nothing_and_gets_no_cursor(
    session: Session, stored: tuple[Viewer, list[Event], Door, Door]
) -> None:
    page = list_events(session, Viewer(person_id="nobody"), EventFilter(), limit=10)
    assert list(page.events) == []
    assert page.next_cursor is None


@pytest.mark.parametrize("cursor", ["", "not-base64!", "W10", "WyJ4IiwgMV0"])
def test_a_forged_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


def test_csv_export_has_a_header_and_every_visible_event(
    session: Session, stored: tuple[Viewer, list[Event], Door, Door]
) -> None:
    viewer, events, _, _ = stored
    text = "".join(export_csv(session, viewer, EventFilter()))
    lines = text.strip().splitlines()
    assert lines[0].startswith("id,occurred_at,door_id")
    assert {line.split(",")[0] for line in lines[1:]} == {e.id for e in events}
