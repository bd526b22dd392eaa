"""Row ids of ingested journal entries and photos: name-based UUIDs, stable across servers."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from keyturn.cloud.history.ingestion import _ID_NAMESPACE, event_id, photo_id


@given(st.text(max_size=64), st.integers(min_value=0, max_value=2**63 - 1))
def test_event_ids_are_the_uuid5_of_device_and_seq(device_id: str, seq: int) -> None:
    expected = uuid.uuid5(_ID_NAMESPACE, f"event:{device_id}:{seq}")
    assert event_id(device_id, seq) == str(expected)
    assert uuid.UUID(event_id(device_id, seq)).version == 5


@given(st.text(max_size=64), st.text(max_size=64))
def test_photo_ids_are_the_uuid5_of_device_and_lock_photo_id(device_id: str, name: str) -> None:
    assert photo_id(device_id, name) == str(uuid.uuid5(_ID_NAMESPACE, f"photo:{device_id}:{name}"))
