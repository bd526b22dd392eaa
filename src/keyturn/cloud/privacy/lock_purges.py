"""Purge commands for locks (D8): one row per lock that may hold a deleted person's records,
sent at every sync until that lock reports it done.

`pending_purges` and `record_purges_done` are the two calls the sync handler makes; the
second also applies a finished deletion to records of the person that a lock uploads late.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.access_lists import subject_for
from keyturn.cloud.models import (
    DataSubjectRequest,
    Device,
    Door,
    Event,
    LockPurge,
    RequestKind,
    RequestState,
)
from keyturn.cloud.privacy import audit
from keyturn.protocol.messages import PurgeCommand


@dataclass(frozen=True, slots=True)
class LockPurgeStatus:
    """Where one lock stands with one purge: pending, done, or retired (never coming back)."""

    device_id: str
    door_name: str | None
    queued_at: datetime
    confirmed_at: datetime | None
    last_sync_at: datetime | None
    state: str


def queue_purges(
    session: Session, request: DataSubjectRequest, property_ids: Iterable[str], now: datetime
) -> list[LockPurge]:
    """A purge row for every live lock at those properties; existing rows are kept as they are."""
    assert request.person_id is not None
    wanted = sorted(set(property_ids))
    if not wanted:
        return []
    devices = session.scalars(
        select(Device.id).where(Device.property_id.in_(wanted), Device.retired_at.is_(None))
    ).all()
    have = set(
        session.scalars(select(LockPurge.device_id).where(LockPurge.request_id == request.id))
    )
    rows = [
        LockPurge(
            request_id=request.id,
            device_id=device_id,
            subject=subject_for(request.person_id),
            queued_at=now,
        )
        for device_id in devices
        if device_id not in have
    ]
    session.add_all(rows)
    session.flush()
    return rows


def pending_purges(session: Session, device: Device) -> tuple[PurgeCommand, ...]:
    """The purge commands this lock has not confirmed yet, for its next downlink."""
    rows = session.execute(
        select(LockPurge.request_id, LockPurge.subject)
        .where(LockPurge.device_id == device.id, LockPurge.confirmed_at.is_(None))
        .order_by(LockPurge.queued_at, LockPurge.request_id)
    ).all()
    return tuple(PurgeCommand(request_id=rid, subject=subject) for rid, subject in rows)


def record_purges_done(
    session: Session,
    device: Device,
    request_ids: Sequence[str],
    now: datetime,
    photo_dir: Path | None = None,
) -> list[str]:
    """Mark the purges this lock reports done and return the request ids newly confirmed.

    Call it on every uplink after its events and photos are ingested, even with no ids: a
    lock offline during a deletion uploads the person's entries late, and they are deleted
    (residence doors) or kept for anonymisation here, like the rest of the person's history.
    A deletion whose last lock confirms is completed.
    """
    from keyturn.cloud.privacy.deletion import apply_to_late_records

    confirmed: list[str] = []
    if request_ids:
        rows = session.scalars(
            select(LockPurge).where(
                LockPurge.device_id == device.id,
                LockPurge.request_id.in_(sorted(set(request_ids))),
                LockPurge.confirmed_at.is_(None),
            )
        ).all()
        for row in rows:
            row.confirmed_at = now
            confirmed.append(row.request_id)
            audit.record(
                session,
                now=now,
                actor_person_id=None,
                action="dsar.lock_purged",
                object_type="data_subject_request",
                object_id=row.request_id,
                property_id=device.property_id,
                detail={"device_id": device.id},
            )
        session.flush()
    apply_to_late_records(session, device, now, photo_dir)
    for request_id in confirmed:
        complete_if_purged(session, request_id, now)
    return confirmed


def complete_if_purged(session: Session, request_id: str, now: datetime) -> bool:
    """Complete an executed deletion once no live lock still owes its purge."""
    request = session.get(DataSubjectRequest, request_id)
    if (
        request is None
        or request.kind != RequestKind.DELETION
        or request.state != RequestState.IN_PROGRESS
        or request.executed_at is None
    ):
        return False
    if any(status.state == "pending" for status in purge_status(session, request_id)):
        return False
    from keyturn.cloud.privacy.requests import complete

    complete(session, request, now, "deleted; every lock confirmed its purge")
    return True


def purge_status(session: Session, request_id: str) -> list[LockPurgeStatus]:
    """Per lock, whether it has purged the request's subject; a retired lock owes nothing."""
    rows = session.execute(
        select(LockPurge, Device, Door.name)
        .join(Device, Device.id == LockPurge.device_id)
        .outerjoin(Door, Door.id == Device.door_id)
        .where(LockPurge.request_id == request_id)
        .order_by(Door.name, Device.id)
    ).all()
    statuses = []
    for purge, device, door_name in rows:
        if purge.confirmed_at is not None:
            state = "done"
        elif device.retired_at is not None:
            state = "retired"
        else:
            state = "pending"
        statuses.append(
            LockPurgeStatus(
                device_id=device.id,
                door_name=door_name,
                queued_at=purge.queued_at,
                confirmed_at=purge.confirmed_at,
                last_sync_at=device.last_sync_at,
                state=state,
            )
        )
    return statuses


def deleted_people(session: Session) -> set[str]:
    """People whose deletion has been carried out, whose late records must not survive."""
    return set(
        session.scalars(
            select(DataSubjectRequest.person_id).where(
                DataSubjectRequest.kind == RequestKind.DELETION,
                DataSubjectRequest.executed_at.is_not(None),
                DataSubjectRequest.person_id.is_not(None),
            )
        )
    )


def linked_events(session: Session, device_id: str, people: set[str]) -> list[Event]:
    """This lock's events that name any of these people as subject or granter."""
    if not people:
        return []
    wanted = sorted(people)
    return list(
        session.scalars(
            select(Event).where(
                Event.device_id == device_id,
                or_(Event.subject_id.in_(wanted), Event.granted_by.in_(wanted)),
            )
        )
    )
