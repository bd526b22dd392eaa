"""Tests for the cloud side of sync on SQLite and PostgreSQL.

Replays, duplicates, reordering and overlaps leave `events` identical; frames that fail
their checks store nothing; entries a lock can no longer deliver become one log gap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_lock import NOW, FakeLock, attempt, provision_fake_lock
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY
from keyturn.cloud.access.access_lists import build_access_list
from keyturn.cloud.access.codes import issue_one_time_code
from keyturn.cloud.devices.errors import (
    InvalidBatch,
    MalformedFrame,
    UnknownDevice,
    UplinkRejected,
)
from keyturn.cloud.devices.service import retire_device
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.history.ingestion import event_id
from keyturn.cloud.models import Device, Doorcode, Event, LogGap, OneTimeCode, Photo
from keyturn.crypto.codes import code_mac
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.sealed import new_data_key, unseal
from keyturn.protocol.access_lists import apply_delta
from keyturn.protocol.messages import EventRecord, PhotoUpload
from keyturn.rules.types import CredentialType, Reason
from worlds import SyncBuilding, make_sync_building


@pytest.fixture
def building(session: Session) -> SyncBuilding:
    return make_sync_building(session)


@pytest.fixture
def lock(session: Session, building: SyncBuilding) -> FakeLock:
    made = provision_fake_lock(session, building.entrance_id)
    session.commit()
    return made


def _sync(session: Session, tmp_path: Path, frame: bytes, *, minutes: int = 0) -> Any:
    downlink = handle_uplink(
        session, MASTER_KEY, tmp_path / "photos", frame, NOW + timedelta(minutes=minutes)
    )
    session.commit()
    return downlink


def _events(session: Session, device_id: str) -> list[dict[str, Any]]:
    """Every column of the device's events except received_at, ordered by sequence number."""
    columns = [c for c in Event.__table__.columns if c.name != "received_at"]
    rows = session.execute(
        select(*columns).where(Event.device_id == device_id).order_by(Event.device_seq)
    ).all()
    return [dict(row._mapping) for row in rows]


def _forget(session: Session, device_id: str) -> None:
    """Make the cloud forget everything it stored from the device, to ingest it again."""
    session.execute(delete(Event).where(Event.device_id == device_id))
    session.execute(delete(LogGap).where(LogGap.device_id == device_id))
    device = session.get(Device, device_id)
    assert device is not None
    device.stored_through_seq = 0
    device.last_uplink_sent_ms = None
    session.commit()


def _journal(building: SyncBuilding) -> list[EventRecord]:
    entries = [attempt(seq, building, granted=seq % 4 != 0) for seq in range(1, 13)]
    entries[6] = EventRecord(
        seq=7,
        occurred_at=entries[6].occurred_at,
        clock_uncertain=True,
        kind="door_ajar",
        chain=b"\x07" * 32,
        detail="open for 30 s",
    )
    return entries


def _frames(lock: FakeLock, journal: list[EventRecord], batches: list[range]) -> list[bytes]:
    return [lock.uplink([journal[seq - 1] for seq in batch]) for batch in batches]


def test_replays_reordering_and_overlaps_leave_events_identical(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    journal = _journal(building)
    in_order = _frames(lock, journal, [range(1, 7), range(7, 13)])
    for frame in in_order:
        _sync(session, tmp_path, frame)
    expected = _events(session, lock.device_id)
    assert [row["device_seq"] for row in expected] == list(range(1, 13))

    scenarios: dict[str, Callable[[], list[bytes]]] = {
        "same uplinks twice": lambda: in_order + in_order,
        "batches in reverse order": lambda: list(reversed(in_order)),
        "overlapping partial batches": lambda: _frames(
            lock, journal, [range(3, 9), range(1, 5), range(8, 13), range(2, 11)]
        ),
    }
    for name, frames in scenarios.items():
        _forget(session, lock.device_id)
        for frame in frames():
            _sync(session, tmp_path, frame)
        assert _events(session, lock.device_id) == expected, name
        device = session.get(Device, lock.device_id)
        assert device is not None
        assert device.stored_through_seq == 12, name


def test_a_replayed_frame_changes_nothing(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    old = lock.uplink([attempt(1, building)])
    _sync(session, tmp_path, old)
    lock.applied_version = 1
    _sync(session, tmp_path, lock.uplink([attempt(2, building)]), minutes=5)
    before = _events(session, lock.device_id)
    device = session.get(Device, lock.device_id)
    assert device is not None
    status_before = (device.last_sync_at, device.applied_access_list_version)

    _sync(session, tmp_path, old, minutes=10)

    session.refresh(device)
    assert _events(session, lock.device_id) == before
    assert (device.last_sync_at, device.applied_access_list_version) == status_before
    assert status_before == (NOW + timedelta(minutes=5), 1)


def test_non_attempt_entries_keep_their_kind_and_no_reason(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    _sync(session, tmp_path, lock.uplink(_journal(building)[5:8]))

    rows = {row["device_seq"]: row for row in _events(session, lock.device_id)}
    assert rows[7]["kind"] == "door_ajar"
    assert rows[7]["reason"] is None
    assert rows[7]["clock_uncertain"] is True
    assert rows[7]["detail"] == "open for 30 s"
    assert rows[6]["kind"] == "attempt"
    assert rows[6]["reason"] == Reason.GRANTED
    assert rows[6]["subject_id"] == building.resident_id
    assert rows[6]["grant_id"] == building.grant_id
    assert rows[6]["granted_by"] == building.manager_id
    assert rows[6]["door_id"] == building.entrance_id
    assert rows[6]["id"] == event_id(lock.device_id, 6)


def test_unknown_subjects_grants_and_granters_are_stored_as_null(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    entry = attempt(1, building, subject="one-time:abc", grant_id="gone", granted_by="nobody")

    _sync(session, tmp_path, lock.uplink([entry]))

    (row,) = _events(session, lock.device_id)
    assert (row["subject_id"], row["grant_id"], row["granted_by"]) == (None, None, None)
    assert row["credential_id"] == entry.credential_id


def _stored_counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Event)) or 0,
        session.scalar(select(func.count()).select_from(Photo)) or 0,
        session.scalar(select(func.count()).select_from(LogGap)) or 0,
    )


def test_tampered_or_foreign_frames_are_refused_and_store_nothing(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    good = lock.uplink([attempt(1, building)], journal_floor=0)
    tampered = bytearray(good)
    tampered[-5] ^= 0x01
    foreign = lock.uplink([attempt(1, building)], signer=SigningKeyPair.generate())
    other_lock = provision_fake_lock(session, building.gym_id)
    session.commit()
    other = other_lock.uplink([attempt(1, building)])
    misrouted = other.replace(other_lock.device_id.encode(), lock.device_id.encode())

    for frame, error in (
        (bytes(tampered), UplinkRejected),
        (foreign, UplinkRejected),
        (misrouted, UplinkRejected),
        (b"\x93not a frame", MalformedFrame),
    ):
        with pytest.raises(error):
            handle_uplink(session, MASTER_KEY, tmp_path, frame, NOW)
        session.rollback()

    assert _stored_counts(session) == (0, 0, 0)
    device = session.get(Device, lock.device_id)
    assert device is not None
    assert device.last_sync_at is None


def test_inconsistent_batches_are_refused(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    no_reason = lock.uplink([attempt(2, building, reason=None)])
    short_nonce = lock.uplink([attempt(1, building)], nonce=b"\x01" * 15)
    for frame in (no_reason, short_nonce):
        with pytest.raises(InvalidBatch):
            handle_uplink(session, MASTER_KEY, tmp_path, frame, NOW)
        session.rollback()
    assert _stored_counts(session) == (0, 0, 0)


def test_each_downlink_answers_the_uplink_that_asked_for_it(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    authority = building.authority.public_bytes()
    first = lock.uplink([attempt(1, building)], nonce=b"\x01" * 16)
    second = lock.uplink([attempt(2, building)], nonce=b"\x02" * 16)

    # Delivered out of order, even twice: each answer names its own uplink.
    answers = [
        lock.open(_sync(session, tmp_path, frame, minutes=n), authority)
        for n, frame in enumerate((second, first, second))
    ]

    assert [down.answers for down in answers] == [b"\x02" * 16, b"\x01" * 16, b"\x02" * 16]
    assert {down.push_seq for down in answers} == {None}


def test_unknown_and_retired_locks_cannot_sync(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    frame = lock.uplink([attempt(1, building)])
    retire_device(session, lock.device_id, NOW, "replaced")
    session.commit()

    with pytest.raises(UnknownDevice):
        handle_uplink(session, MASTER_KEY, tmp_path, frame, NOW)


def test_entries_the_lock_no_longer_holds_become_exactly_one_gap(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    journal = [attempt(seq, building) for seq in range(1, 21)]
    _sync(session, tmp_path, lock.uplink(journal[0:5]))
    # The batch 6..10 never arrives; the lock then prunes through 12 and uploads 13..20.
    _sync(session, tmp_path, lock.uplink(journal[10:12]))
    first = lock.uplink(journal[12:20], journal_floor=12)
    downlink = lock.open(_sync(session, tmp_path, first), building.authority.public_bytes())
    _sync(session, tmp_path, first)
    _sync(session, tmp_path, lock.uplink([], journal_floor=20))

    gaps = session.execute(
        select(LogGap.from_seq, LogGap.to_seq, LogGap.door_id).where(
            LogGap.device_id == lock.device_id
        )
    ).all()
    assert [tuple(gap) for gap in gaps] == [(6, 10, building.entrance_id)]
    stored = set(session.scalars(select(Event.device_seq).where(Event.device_id == lock.device_id)))
    assert stored == set(range(1, 21)) - set(range(6, 11))
    assert downlink.stored_through_seq == 20


def test_stored_through_stops_at_the_first_entry_not_yet_received(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    journal = [attempt(seq, building) for seq in range(1, 9)]
    authority = building.authority.public_bytes()

    after_late = lock.open(_sync(session, tmp_path, lock.uplink(journal[4:8])), authority)
    after_early = lock.open(_sync(session, tmp_path, lock.uplink(journal[0:3])), authority)
    after_all = lock.open(_sync(session, tmp_path, lock.uplink(journal[3:4])), authority)

    assert (after_late.stored_through_seq, after_early.stored_through_seq) == (0, 3)
    assert after_all.stored_through_seq == 8
    assert session.scalar(select(func.count()).select_from(LogGap)) == 0


def test_photos_are_stored_as_sent_with_their_key_sealed(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    data_key = new_data_key()
    upload = PhotoUpload(
        photo_id="p-1",
        seq=2,
        content_type="image/jpeg",
        data_key=data_key,
        ciphertext=b"\x01encrypted-jpeg",
    )
    entry = attempt(2, building, photo_id="p-1", credential_type=CredentialType.SINGLE_DAY_CODE)
    frame = lock.uplink([attempt(1, building), entry], photos=(upload,))

    _sync(session, tmp_path, frame)
    _sync(session, tmp_path, frame)

    photo = session.scalars(select(Photo)).one()
    event = session.get(Event, event_id(lock.device_id, 2))
    assert event is not None
    assert event.photo_id == photo.id
    assert photo.event_id == event.id
    assert photo.taken_at == event.occurred_at
    assert (tmp_path / "photos" / photo.storage_key).read_bytes() == upload.ciphertext
    assert photo.key_sealed is not None
    assert unseal(MASTER_KEY, photo.key_sealed, f"photo-key:{photo.id}".encode()) == data_key


def test_downlink_brings_a_lagging_lock_up_to_date_with_a_delta(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    authority = building.authority.public_bytes()
    first = lock.open(_sync(session, tmp_path, lock.uplink([])), authority)
    assert first.access_list is not None
    assert first.access_list.base_version is None
    lock.applied_version = first.access_list.version

    current = lock.open(_sync(session, tmp_path, lock.uplink([])), authority)
    assert current.access_list is None

    secret = lock.config.door_secret
    session.add(
        Doorcode(
            person_id=building.resident_id,
            door_id=building.entrance_id,
            code_mac=code_mac(secret, "482915"),
        )
    )
    session.commit()
    update = lock.open(_sync(session, tmp_path, lock.uplink([]), minutes=1), authority)

    assert update.access_list is not None
    assert update.access_list.base_version == first.access_list.version
    assert update.access_list.version == first.access_list.version + 1
    assert [spec.lookup for spec in update.access_list.upserts] == [code_mac(secret, "482915")]
    full = apply_delta(first.access_list, update.access_list)
    assert {spec.credential_type for spec in full.upserts} == {CredentialType.PERSONAL_DOORCODE}
    assert update.issued_at == int((NOW + timedelta(minutes=1)).timestamp())


def test_the_cloud_learns_a_one_time_codes_first_use_and_lists_its_end(
    session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path
) -> None:
    issued = issue_one_time_code(session, MASTER_KEY, building.entrance_id, None, 10, NOW)
    session.commit()
    used = attempt(
        1,
        building,
        credential_type=CredentialType.ONE_TIME_CODE,
        credential_id=issued.record_id,
        subject=None,
        grant_id=None,
    )
    later = attempt(
        2,
        building,
        credential_type=CredentialType.ONE_TIME_CODE,
        credential_id=issued.record_id,
        subject=None,
        grant_id=None,
        occurred_at=used.occurred_at + 60_000,
    )
    refused = attempt(3, building, granted=False, credential_id=issued.record_id)

    authority = building.authority.public_bytes()
    before = lock.open(_sync(session, tmp_path, lock.uplink([])), authority).access_list
    assert before is not None
    lock.applied_version = before.version

    # Uploaded out of order: the earliest granted use is the one that counts.
    _sync(session, tmp_path, lock.uplink([later, refused]))
    delta = lock.open(_sync(session, tmp_path, lock.uplink([used])), authority).access_list

    # The lock's next list (a delta on the one it holds) carries the code's end.
    assert delta is not None
    assert delta.base_version == before.version
    ends = {s.credential_id: s.schedule.ends_at for s in delta.upserts}
    assert ends[issued.record_id] == int((NOW + timedelta(seconds=1, minutes=10)).timestamp())

    row = session.get(OneTimeCode, issued.record_id)
    assert row is not None
    assert row.first_used_at == NOW + timedelta(seconds=1)
    listed = build_access_list(session, MASTER_KEY, building.entrance_id, NOW)
    spec = next(s for s in listed.upserts if s.credential_id == issued.record_id)
    assert spec.schedule.ends_at == int((NOW + timedelta(seconds=1, minutes=10)).timestamp())
    after = build_access_list(
        session, MASTER_KEY, building.entrance_id, NOW + timedelta(minutes=11)
    )
    assert issued.record_id not in {s.credential_id for s in after.upserts}
