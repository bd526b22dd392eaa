"""Ingesting a lock's journal into `events`, its photos into the photo store, and log gaps.

Ingest is idempotent: event and photo ids are derived from (device, sequence number) and
(device, photo id), and inserts skip rows that exist, so replays and reordering change nothing.
"""

from __future__ import annotations

import functools
import hashlib
import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keyturn.cloud.access.access_lists import known_people
from keyturn.cloud.history.photos import seal_photo_key
from keyturn.cloud.models import (
    EVENT_DETAIL_LENGTH,
    Device,
    Door,
    Event,
    Grant,
    LogGap,
    Photo,
)
from keyturn.protocol.messages import EventRecord, PhotoUpload

CONTENT_TYPE_LENGTH = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Fixed namespace: the same journal entry always gets the same row id, on every server.
_ID_NAMESPACE = uuid.UUID("6f3d1c52-2a52-4a8e-9d0e-5b3c1f0a7e11")
_ID_NAMESPACE_BYTES = _ID_NAMESPACE.bytes


def _name_based_id(name: str) -> str:
    """`str(uuid.uuid5(_ID_NAMESPACE, name))`, without the UUID object that costs most of it.

    RFC 9562 section 5.5: the first 16 bytes of SHA-1(namespace || name), with the version
    (5) and variant (10) bits set; ingest makes one per journal entry.
    """
    digest = bytearray(
        hashlib.sha1(_ID_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def event_id(device_id: str, seq: int) -> str:
    """The row id of a device's journal entry `seq`, the same however often it is uploaded."""
    return _name_based_id(f"event:{device_id}:{seq}")


def photo_id(device_id: str, lock_photo_id: str) -> str:
    """The row id of a photo the lock named `lock_photo_id`, scoped to that lock."""
    return _name_based_id(f"photo:{device_id}:{lock_photo_id}")


def from_epoch_ms(millis: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds; OverflowError if out of range."""
    return _EPOCH + timedelta(milliseconds=millis)


# The statements of every sync, built once: building a statement costs more than running it.
def _among(column: Any) -> Any:
    return column.in_(bindparam("among", expanding=True))


_STORED_SEQS = select(Event.device_seq).where(
    Event.device_id == bindparam("device"), _among(Event.device_seq)
)
_SEQS_ABOVE = (
    select(Event.device_seq)
    .where(Event.device_id == bindparam("device"), Event.device_seq > bindparam("above"))
    .order_by(Event.device_seq)
)
_SEQS_BETWEEN = (
    select(Event.device_seq)
    .where(
        Event.device_id == bindparam("device"),
        Event.device_seq.between(bindparam("low"), bindparam("high")),
    )
    .order_by(Event.device_seq)
)
_GAPS_FROM = select(LogGap.from_seq, LogGap.to_seq).where(
    LogGap.device_id == bindparam("device"),
    LogGap.to_seq.is_(None) | (LogGap.to_seq >= bindparam("low")),
)
_ABOVE_MARK = select(
    func.count(Event.device_seq),
    func.max(Event.device_seq),
    exists().where(
        LogGap.device_id == bindparam("device"),
        LogGap.to_seq.is_(None) | (LogGap.to_seq >= bindparam("low")),
    ),
).where(Event.device_id == bindparam("device"), Event.device_seq > bindparam("above"))
_KNOWN_GRANTS = select(Grant.id).where(_among(Grant.id))
_STORED_PHOTOS = select(Photo.id).where(_among(Photo.id))
_PHOTOS_WAITING = select(Photo.id).where(_among(Photo.id), Photo.event_id.is_(None))
_EVENT_TIMES = select(Event.id, Event.occurred_at).where(_among(Event.id))


@functools.cache
def _insert_new(dialect: str, table: Any, *conflict: str) -> Any:
    """An INSERT of rows that skips those already stored (by `conflict`, else any key)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict) or None)


def ingest_events(
    session: Session, device: Device, door: Door, records: Sequence[EventRecord], now: datetime
) -> list[int]:
    """Store the journal entries not stored yet and return their sequence numbers.

    The subject, granter and grant are kept only when they name rows the cloud knows;
    anything else (a one-time code's holder, a pseudonym from a purged person) stays NULL.
    """
    if not records:
        return []
    seqs = sorted({record.seq for record in records})
    existing = set(session.scalars(_STORED_SEQS, {"device": device.id, "among": seqs}))
    fresh = {record.seq: record for record in records if record.seq not in existing}
    if not fresh:
        return []
    people, granters = known_people(
        session, (r.subject for r in fresh.values()), (r.granted_by for r in fresh.values())
    )
    grants = _known(session, _KNOWN_GRANTS, (r.grant_id for r in fresh.values()))
    # Read once: attribute access on ORM objects costs more than building a row.
    device_id, property_id, door_id, door_kind = device.id, door.property_id, door.id, door.kind
    rows = [
        {
            "id": event_id(device_id, record.seq),
            "property_id": property_id,
            "door_id": door_id,
            "door_kind": door_kind,
            "device_id": device_id,
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
            "photo_id": photo_id(device_id, record.photo_id) if record.photo_id else None,
        }
        for record in fresh.values()
    ]
    dialect = session.get_bind().dialect.name
    session.execute(_insert_new(dialect, Event.__table__, "device_id", "device_seq"), rows)
    _link_photos(session, device.id, fresh.values())
    return sorted(fresh)


def _known(session: Session, statement: Any, values: Iterable[str | None]) -> set[str]:
    wanted = sorted({value for value in values if value})
    if not wanted:
        return set()
    return set(session.scalars(statement, {"among": wanted}))


def _link_photos(session: Session, device_id: str, records: Iterable[EventRecord]) -> None:
    """Point photos that arrived before their event at it."""
    events_of = {
        photo_id(device_id, record.photo_id): event_id(device_id, record.seq)
        for record in records
        if record.photo_id
    }
    if not events_of:
        return
    waiting = session.scalars(_PHOTOS_WAITING, {"among": sorted(events_of)}).all()
    for row_id in waiting:
        session.execute(
            update(Photo)
            .where(Photo.id == row_id, Photo.event_id.is_(None))
            .values(event_id=events_of[row_id])
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
    if not uploads:
        return []
    row_ids = {photo_id(device.id, upload.photo_id): upload for upload in uploads}
    existing = set(session.scalars(_STORED_PHOTOS, {"among": sorted(row_ids)}))
    fresh = {row_id: upload for row_id, upload in row_ids.items() if row_id not in existing}
    if not fresh:
        return []
    events = {
        row_id: occurred_at
        for row_id, occurred_at in session.execute(
            _EVENT_TIMES, {"among": sorted({event_id(device.id, u.seq) for u in fresh.values()})}
        )
    }
    rows = []
    for row_id, upload in fresh.items():
        storage_key = f"{device.id}/{row_id}"
        _write_once(photo_dir / storage_key, upload.ciphertext)
        linked = event_id(device.id, upload.seq)
        rows.append(
            {
                "id": row_id,
                "event_id": linked if linked in events else None,
                "property_id": door.property_id,
                "door_id": door.id,
                "taken_at": events.get(linked, now),
                "storage_key": storage_key,
                "lock_photo_id": upload.photo_id,
                "content_type": upload.content_type[:CONTENT_TYPE_LENGTH],
                "key_sealed": seal_photo_key(master_key, upload.data_key, row_id),
                "created_at": now,
                "erased_at": None,
            }
        )
    session.execute(_insert_new(session.get_bind().dialect.name, Photo.__table__), rows)
    return list(fresh)


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
    seqs = session.scalars(_SEQS_BETWEEN, {"device": device.id, "low": low, "high": high}).all()
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
    stored, highest, gapped = session.execute(
        _ABOVE_MARK, {"device": device.id, "above": mark, "low": mark + 1}
    ).one()
    if not gapped and (stored == 0 or highest == mark + stored):
        # Nothing above the mark is in a gap, and what is stored runs unbroken from it.
        device.stored_through_seq = highest or mark
        return device.stored_through_seq
    seqs = session.scalars(_SEQS_ABOVE, {"device": device.id, "above": mark}).all()
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
    gaps = session.execute(_GAPS_FROM, {"device": device_id, "low": low}).all()
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
