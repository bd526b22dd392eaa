"""The /events page body is encoded directly; it must be exactly what EventPage would give."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from keyturn.cloud.history.schemas import EventPage, StoredRow, event_fields, event_page_json
from keyturn.rules.types import CredentialType, DoorKind, Reason
from keyturn.rules.visibility import Viewer

VIEWER = Viewer(person_id="p-1", managed_property_ids=frozenset({"prop"}))
ids = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=36)
rows = st.builds(
    StoredRow,
    id=ids,
    property_id=st.just("prop"),
    door_id=ids,
    door_kind=st.sampled_from(DoorKind),
    kind=st.sampled_from(["attempt", "forced_open", "ajar"]),
    occurred_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    clock_uncertain=st.booleans(),
    credential_type=st.none() | st.sampled_from(CredentialType),
    subject_id=st.none() | ids,
    granted_by=st.none() | ids,
    by_resident=st.booleans(),
    reason=st.none() | st.sampled_from(Reason),
    photo_id=st.none() | ids,
)


@given(st.lists(rows, max_size=5), st.none() | ids)
def test_page_body_is_the_event_page_models_json(
    events: list[StoredRow], cursor: str | None
) -> None:
    body = event_page_json(events, VIEWER, cursor)

    expected = EventPage.model_validate(
        {"items": [event_fields(event, VIEWER) for event in events], "next_cursor": cursor}
    )
    assert EventPage.model_validate_json(body) == expected
    assert body == expected.model_dump_json().encode()
