"""Ingesting a lock's journal into `events`, its photos into the photo store, and log gaps.

Ingest is idempotent: event and photo ids are derived from (device, sequence number) and
(device, photo id), and inserts skip rows that exist, so replays and reordering change nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keyturn.cloud.access.models import Grant
from keyturn.cloud.access.service import people_for_subjects
from keyturn.cloud.devices.models import Device
from keyturn.cloud.history.models import (
    EVENT_DETAIL_LENGTH,
    Event,
    LogGap,
    Photo,
)
from keyturn.cloud.people.models import Person
from keyturn.cloud.properties.models import Door
from keyturn.crypto.sealed import seal
from keyturn.protocol.messages import EventRecord, PhotoUpload

CONTENT_TYPE_LENGTH = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Fixed namespace: the same journal entry always gets the same row id, on every server.
_ID_NAMESPACE = uuid.UUID("6f3d1c52-2a52-4a8e-9d0e-5b3c1f0a7e11")


def event_id(device_id: str, seq: int) -> str:
    """The row id of a device's journal entry `seq`, the same however often it is uploaded."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"event:{device_id}:{seq}"))


def photo_id(device_id: str, lock_photo_id: str) -> str:
    """The row id of a photo the lock named `lock_photo_id`, scoped to that lock."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"photo:{device_id}:{lock_photo_id}"))


def from_epoch_ms(millis: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds; OverflowError if out of range."""
    return _EPOCH + timedelta(milliseconds=millis)


def _insert(session: Session, table: Any) -> Any:
    """An INSERT that can skip conflicting rows, in the session's SQL dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def ingest_events(
    session: Session, device: Device, door: Door, records: Sequence[EventRecord], now: datetime
) -> list[int]:
    """Store the journal entries not stored yet and return their sequence numbers.

    The subject, granter and grant are kept only when they name rows the cloud knows;
    anything else (a one-time code's holder, a pseudonym from a purged person) stays NULL.
    """
    if not records:
        return []
    seqs = [record.seq for record in records]
    existing = set(
        session.scalars(
            select(Event.device_seq).where(
                Event.device_id == device.id, Event.device_seq.in_(sorted(set(seqs)))
            )
        )
    )
    fresh = {record.seq: record for record in records if record.seq not in existing}
    if not fresh:
        return []
    people = people_for_subjects(session, (r.subject for r in fresh.values() if r.subject))
    granters = _known(session, Person.id, (r.granted_by for r in fresh.values()))
    grants = _known(session, Grant.id, (r.grant_id for r in fresh.values()))
    rows = [
        {
            "id": event_id(device.id, record.seq),
            "property_id": door.property_id,
            "door_id": door.id,
            "door_kind": door.kind,
            "device_id": device.id,
            "device_seq": record.seq,
            "kind": record.kind,
            "occurred_at": from_epoch_ms(record.occurred_at),
            "received_at": now,
            "clock_uncertain": record.clock_uncertain,
            "credential_type": record.credential_type,
            "credential_id": record.credential_id,
            "grant_id": record.grant_id if record.grant_id in grants else None,
            "subject_id": people.get(record.subject) if record.subject else None,
            "granted_by": record.granted_by if record.granted_by in granters else None,
            "by_resident": record.by_resident,
            "reason": record.reason,
            "detail": record.detail[:EVENT_DETAIL_LENGTH] if record.detail else None,
            "photo_id": photo_id(device.id, record.photo_id) if record.photo_id else None,
            "anonymised_at": None,
        }
        for record in fresh.values()
    ]
    statement = _insert(session, Event.__table__).on_conflict_do_nothing(
        index_elements=["device_id", "device_seq"]
    )
    session.execute(statement, rows)
    _link_photos(session, device.id, fresh.values())
    return sorted(fresh)


def _known(session: Session, column: Any, values: Iterable[str | None]) -> set[str]:
    wanted = sorted({value for value in values if value})
    if not wanted:
        return set()
    return set(session.scalars(select(column).where(column.in_(wanted))))


def _link_photos(session: Session, device_id: str, records: Iterable[EventRecord]) -> None:
    """Point photos that arrived before their event at it."""
    for record in records:
        if record.photo_id:
            session.execute(
                update(Photo)
                .where(Photo.id == photo_id(device_id, record.photo_id), Photo.event_id.is_(None))
                .values(event_id=event_id(device_id, record.seq))
            )


def ingest_photos(
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    device: Device,
    door: Door,
    uploads: Sequence[PhotoUpload],
    now: datetime,
) -> list[str]:
    """Store photos not stored yet and return their row ids.

    The ciphertext is written as the lock encrypted it to `<photo_dir>/<storage_key>`; the
    photo's data key is sealed under the master key into `Photo.key_sealed`, so erasing
    that column shreds the photo wherever its ciphertext was copied.
    """
    stored: list[str] = []
    for upload in uploads:
        row_id = photo_id(device.id, upload.photo_id)
        if session.get(Photo, row_id) is not None:
            continue
        storage_key = f"{device.id}/{row_id}"
        _write_once(photo_dir / storage_key, upload.ciphertext)
        linked = session.get(Event, event_id(device.id, upload.seq))
        statement = _insert(session, Photo.__table__).on_conflict_do_nothing()
        session.execute(
            statement,
            {
                "id": row_id,
                "event_id": linked.id if linked is not None else None,
                "property_id": door.property_id,
                "door_id": door.id,
                "taken_at": linked.occurred_at if linked is not None else now,
                "storage_key": storage_key,
                "content_type": upload.content_type[:CONTENT_TYPE_LENGTH],
                "key_sealed": seal(master_key, upload.data_key, f"photo-key:{row_id}".encode()),
                "created_at": now,
                "erased_at": None,
            },
        )
        stored.append(row_id)
    return stored


def _write_once(path: Path, data: bytes) -> None:
    """Write a blob atomically; a blob already there (an earlier upload) is left alone."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def record_lost_entries(
    session: Session, device: Device, pruned_through: int, now: datetime, note: str
) -> list[LogGap]:
    """Record as log gaps the entries up to `pruned_through` that the cloud never received.

    Journals number their first entry 1 (a fresh device's watermark is 0). The lock reports
    its journal floor: it no longer holds anything at or below it, so a number down there
    that is neither stored nor inside a gap can never arrive. Each maximal run becomes one
    gap, once: a second call finds the run covered and records nothing.
    """
    low, high = device.stored_through_seq + 1, pruned_through
    if high < low:
        return []
    seqs = session.scalars(
        select(Event.device_seq)
        .where(Event.device_id == device.id, Event.device_seq.between(low, high))
        .order_by(Event.device_seq)
    ).all()
    covered = _covered(session, device.id, seqs, low)
    gaps = [
        LogGap(
            device_id=device.id,
            door_id=device.door_id,
            from_seq=start,
            to_seq=end,
            detected_at=now,
            note=note,
        )
        for start, end in missing_runs(low, high, covered)
    ]
    session.add_all(gaps)
    session.flush()
    return gaps


def record_open_ended_gap(session: Session, device: Device, now: datetime, note: str) -> LogGap:
    """Record that everything after the highest stored entry is lost (the lock is retired).

    Holes below that entry are recorded first, as ordinary gaps, since nothing will fill them.
    """
    highest = session.scalar(
        select(Event.device_seq)
        .where(Event.device_id == device.id)
        .order_by(Event.device_seq.desc())
        .limit(1)
    )
    after = max(highest or 0, device.stored_through_seq)
    record_lost_entries(session, device, after, now, note)
    gap = LogGap(
        device_id=device.id,
        door_id=device.door_id,
        from_seq=after + 1,
        to_seq=None,
        detected_at=now,
        note=note,
    )
    session.add(gap)
    session.flush()
    advance_stored_through(session, device)
    return gap


def advance_stored_through(session: Session, device: Device) -> int:
    """Move the device's watermark up to the highest seq with everything at or below it
    stored or inside a gap, and return it; this is the `stored_through_seq` a lock is told."""
    mark = device.stored_through_seq
    seqs = session.scalars(
        select(Event.device_seq)
        .where(Event.device_id == device.id, Event.device_seq > mark)
        .order_by(Event.device_seq)
    ).all()
    for start, end in _covered(session, device.id, seqs, mark + 1):
        if start > mark + 1:
            break
        if end is None:
            break
        mark = max(mark, end)
    device.stored_through_seq = mark
    return mark


def _covered(
    session: Session, device_id: str, seqs: Sequence[int], low: int
) -> list[tuple[int, int | None]]:
    """Sorted, merged intervals of numbers at or above `low` that are stored or in a gap."""
    gaps = session.execute(
        select(LogGap.from_seq, LogGap.to_seq).where(
            LogGap.device_id == device_id, (LogGap.to_seq.is_(None)) | (LogGap.to_seq >= low)
        )
    ).all()
    intervals: list[tuple[int, int | None]] = [(seq, seq) for seq in seqs]
    intervals.extend((start, end) for start, end in gaps)
    return merge_intervals(intervals)


def merge_intervals(intervals: Iterable[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """Merge closed integer intervals, adjacent ones too; None as an end means unbounded.

    An unbounded interval is never folded into the bounded one before it.
    """
    merged: list[tuple[int, int | None]] = []
    for start, end in sorted(intervals, key=lambda item: item[0]):
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                continue
            if start <= last_end + 1:
                if end is None:
                    # Kept apart, so the finite run before an open-ended gap stays visible.
                    merged.append((last_end + 1, None))
                else:
                    merged[-1] = (last_start, max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def missing_runs(
    low: int, high: int, covered: Sequence[tuple[int, int | None]]
) -> list[tuple[int, int]]:
    """The maximal runs within [low, high] outside the merged, sorted `covered` intervals."""
    runs: list[tuple[int, int]] = []
    cursor = low
    for start, end in covered:
        if cursor > high:
            break
        if end is not None and end < cursor:
            continue
        if start > cursor:
            runs.append((cursor, min(start - 1, high)))
        if end is None:
            return runs
        cursor = max(cursor, end + 1)
    if cursor <= high:
        runs.append((cursor, high))
    return runs
