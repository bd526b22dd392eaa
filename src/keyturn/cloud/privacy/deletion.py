"""Deleting a person's data (D4-D6): the preconditions, the deletion itself, the 90-day
anonymisation of their entrance and common history, and late records from offline locks.

The person row stays, blanked, until nothing needs its id: entrance history is kept linked
for 90 days for building security (D6), then anonymised by `anonymise_due`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import QueryableAttribute, Session

from keyturn.cloud.mail.suppression import suppress
from keyturn.cloud.models import (
    Account,
    DataSubjectRequest,
    Device,
    Doorcode,
    EmailLink,
    Event,
    Grant,
    Key,
    Keycard,
    ManagedKey,
    MobileKeyRegistration,
    OneTimeCode,
    OutboxMessage,
    Person,
    Photo,
    Property,
    RecordHold,
    RequestKind,
    RoleMembership,
    RolePermission,
    SingleDayCode,
    WebhookSubscription,
)
from keyturn.cloud.people.profiles import profiles_of
from keyturn.cloud.privacy import audit
from keyturn.cloud.privacy.lock_purges import deleted_people, linked_events, queue_purges
from keyturn.rules.retention import EventRecord, anonymise
from keyturn.rules.types import CredentialType, DoorKind, Reason, Role

SECURITY_KEEP = timedelta(days=90)
EVENT_HOLD = "event"


@dataclass
class DeletionReport:
    """What one deletion removed at once and what it left for later."""

    residence_events_deleted: int = 0
    photos_erased: int = 0
    links_dropped: int = 0
    kept_for_security: int = 0
    outbox_removed: int = 0
    locks_to_purge: int = 0
    exempt_events: list[str] = field(default_factory=list)


def blockers(session: Session, person_id: str, now: datetime) -> list[str]:
    """What must be removed before the person's data can be deleted (D4), in plain words.

    Any live grant or live credential is active access; a manager role must first be removed
    by a portfolio manager. An empty list means deletion may proceed.
    """
    found: list[str] = []
    grants = session.execute(
        select(Key.name, Property.name, Grant.ends_at)
        .join(Key, Key.id == Grant.key_id)
        .join(Property, Property.id == Key.property_id)
        .where(
            Grant.person_id == person_id,
            Grant.revoked_at.is_(None),
            or_(Grant.ends_at.is_(None), Grant.ends_at > now),
        )
        .order_by(Property.name, Key.name)
    ).all()
    for key_name, property_name, ends_at in grants:
        until = f" until {ends_at:%Y-%m-%d}" if ends_at else ""
        found.append(f"revoke the key '{key_name}' at {property_name}{until}")
    codes = _count(
        session, Doorcode.id, Doorcode.person_id == person_id, Doorcode.revoked_at.is_(None)
    )
    if codes:
        found.append(f"revoke {codes} personal doorcode(s)")
    cards = _count(session, Keycard.id, Keycard.person_id == person_id, Keycard.active.is_(True))
    if cards:
        found.append(f"deactivate {cards} keycard(s)")
    phones = _count(
        session,
        MobileKeyRegistration.id,
        MobileKeyRegistration.person_id == person_id,
        MobileKeyRegistration.revoked_at.is_(None),
    )
    if phones:
        found.append(f"revoke {phones} enrolled phone(s)")
    temporary = [
        row
        for row in session.scalars(
            select(OneTimeCode).where(
                OneTimeCode.issued_for == person_id, OneTimeCode.revoked_at.is_(None)
            )
        )
        if row.first_used_at is None
        or row.first_used_at + timedelta(minutes=row.valid_minutes) > now
    ]
    if temporary:
        found.append(f"revoke {len(temporary)} temporary code(s)")
    roles = session.execute(
        select(RoleMembership.role, Property.name)
        .join(Property, Property.id == RoleMembership.property_id)
        .where(RoleMembership.person_id == person_id)
        .order_by(Property.name)
    ).all()
    for role, property_name in roles:
        if Role(role).is_manager:
            found.append(
                f"a portfolio manager must remove the {Role(role).value} role at {property_name}"
            )
    return found


def _count(session: Session, column: QueryableAttribute[str], *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count(column)).where(*where)) or 0)


def person_properties(session: Session, person_id: str) -> set[str]:
    """Every property whose locks may hold the person's records: roles, keys, and history."""
    found = set(
        session.scalars(
            select(RoleMembership.property_id).where(RoleMembership.person_id == person_id)
        )
    )
    found |= set(
        session.scalars(
            select(Key.property_id)
            .join(Grant, Grant.key_id == Key.id)
            .where(or_(Grant.person_id == person_id, Grant.created_by == person_id))
        )
    )
    found |= set(
        session.scalars(
            select(Event.property_id)
            .where(or_(Event.subject_id == person_id, Event.granted_by == person_id))
            .distinct()
        )
    )
    found |= set(session.scalars(select(Keycard.property_id).where(Keycard.person_id == person_id)))
    return found


def held_event_ids(session: Session, request_id: str) -> set[str]:
    """Events a legal hold exempts from this request (D7)."""
    return set(
        session.scalars(
            select(RecordHold.object_id).where(
                RecordHold.request_id == request_id, RecordHold.object_type == EVENT_HOLD
            )
        )
    )


def execute_deletion(
    session: Session,
    master_key: bytes,
    photo_dir: Path | None,
    request: DataSubjectRequest,
    now: datetime,
) -> DeletionReport:
    """Carry out a verified deletion whose preconditions hold (the caller checked them).

    Residence-door history goes now, photos with it; contact details are blanked and the
    address suppressed, so no mail is ever sent to it (D5); entrance and common history is
    scheduled for anonymisation 90 days on (D6); every lock that may hold records is sent a
    purge (D8).
    """
    person = session.get(Person, request.person_id)
    assert person is not None
    report = DeletionReport()
    held = held_event_ids(session, request.id)
    report.exempt_events = sorted(held)
    report.locks_to_purge = len(
        queue_purges(session, request, person_properties(session, person.id), now)
    )
    own = list(
        session.scalars(
            select(Event).where(or_(Event.subject_id == person.id, Event.granted_by == person.id))
        )
    )
    for event in own:
        if event.id in held:
            continue
        if event.door_kind == DoorKind.RESIDENCE and event.subject_id == person.id:
            report.photos_erased += _delete_event(session, event, photo_dir)
            report.residence_events_deleted += 1
        elif event.door_kind == DoorKind.RESIDENCE:
            event.granted_by = None
            report.links_dropped += 1
        else:
            report.kept_for_security += 1
    report.outbox_removed = _stop_mail(session, master_key, person)
    _drop_access_records(session, person.id)
    # What each portfolio kept of the person (its name for them, consent, minor status).
    for profile in profiles_of(session, person_id=person.id):
        session.delete(profile)
    person.display_name = ""
    person.email = None
    person.phone = None
    request.executed_at = now
    request.anonymise_due_at = now + SECURITY_KEEP
    session.flush()
    return report


def _delete_event(session: Session, event: Event, photo_dir: Path | None) -> int:
    """Delete one event and its photos (file and key); the number of photos erased."""
    photos = list(
        session.scalars(
            select(Photo).where(or_(Photo.event_id == event.id, Photo.id == event.photo_id))
        )
    )
    for photo in photos:
        _remove_photo_file(photo, photo_dir)
        session.delete(photo)
    session.flush()
    session.delete(event)
    return len(photos)


def _remove_photo_file(photo: Photo, photo_dir: Path | None) -> None:
    if photo_dir is not None:
        (photo_dir / photo.storage_key).unlink(missing_ok=True)


def _stop_mail(session: Session, master_key: bytes, person: Person) -> int:
    """Suppress the person's address and delete every message to them, queued or sent (D5)."""
    removed = 0
    if person.email:
        removed += suppress(session, master_key, person.email)
    gone = session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.person_id == person.id)
        .execution_options(synchronize_session="fetch")
    )
    return removed + int(getattr(gone, "rowcount", 0) or 0)


def _drop_access_records(session: Session, person_id: str) -> None:
    """Remove the person's account, roles, grants and credentials, and their name on others'."""
    for model in (
        Account,
        RoleMembership,
        RolePermission,
        ManagedKey,
        Grant,
        Doorcode,
        Keycard,
        MobileKeyRegistration,
        EmailLink,
    ):
        session.execute(
            delete(model)
            .where(model.person_id == person_id)
            .execution_options(synchronize_session="fetch")
        )
    session.execute(
        delete(WebhookSubscription)
        .where(WebhookSubscription.created_by == person_id)
        .execution_options(synchronize_session="fetch")
    )
    for column in (
        Grant.created_by,
        SingleDayCode.created_by,
        OneTimeCode.created_by,
        OneTimeCode.issued_for,
        RoleMembership.invited_by,
        RolePermission.granted_by,
        EmailLink.created_by,
    ):
        session.execute(
            update(column.class_)
            .where(column == person_id)
            .values({column.key: None})
            .execution_options(synchronize_session="fetch")
        )


def _anonymise_event(session: Session, event: Event, photo_dir: Path | None, now: datetime) -> int:
    """Apply R3 to one event through the rules core; the number of photos erased."""
    kept = anonymise(
        EventRecord(
            property_id=event.property_id,
            door_id=event.door_id,
            door_kind=event.door_kind,
            occurred_at=event.occurred_at,
            # Door events (ajar, forced) carry neither; only the links matter to R3 here.
            reason=event.reason or Reason.GRANTED,
            credential_type=event.credential_type or CredentialType.MECHANICAL_KEY,
            by_resident=event.by_resident,
            subject_id=event.subject_id,
            granted_by=event.granted_by,
            credential_id=event.credential_id,
            photo_id=event.photo_id,
        )
    )
    photos = list(
        session.scalars(
            select(Photo).where(or_(Photo.event_id == event.id, Photo.id == event.photo_id))
        )
    )
    for photo in photos:
        _remove_photo_file(photo, photo_dir)
        session.delete(photo)
    event.subject_id = kept.subject_id
    event.granted_by = kept.granted_by
    event.credential_id = kept.credential_id
    event.photo_id = kept.photo_id
    event.grant_id = None
    event.anonymised_at = now
    return len(photos)


def anonymise_due(session: Session, now: datetime, photo_dir: Path | None = None) -> int:
    """Anonymise the kept history of deleted people whose 90 days are over (D6); events changed.

    Idempotent and safe to interrupt: each request is finished in the caller's transaction
    and marked done only with its events. The retention job calls it on every run.
    """
    due = session.scalars(
        select(DataSubjectRequest).where(
            DataSubjectRequest.kind == RequestKind.DELETION,
            DataSubjectRequest.anonymise_due_at <= now,
            DataSubjectRequest.anonymised_at.is_(None),
        )
    ).all()
    changed = 0
    for request in due:
        person_id = request.person_id
        if person_id is not None:
            changed += _anonymise_person(
                session, person_id, held_event_ids(session, request.id), photo_dir, now
            )
        request.anonymised_at = now
        audit.record(
            session,
            now=now,
            actor_person_id=None,
            action="dsar.anonymised",
            object_type="data_subject_request",
            object_id=request.id,
            property_id=request.property_id,
        )
    session.flush()
    return changed


def _anonymise_person(
    session: Session, person_id: str, held: set[str], photo_dir: Path | None, now: datetime
) -> int:
    changed = 0
    events = session.scalars(
        select(Event).where(or_(Event.subject_id == person_id, Event.granted_by == person_id))
    ).all()
    for event in events:
        if event.id in held:
            continue
        if event.subject_id == person_id:
            _anonymise_event(session, event, photo_dir, now)
        else:
            event.granted_by = None
        changed += 1
    return changed


def apply_to_late_records(
    session: Session, device: Device, now: datetime, photo_dir: Path | None
) -> int:
    """Give records of deleted people that this lock just uploaded the same treatment.

    Residence-door entries are deleted, links on others' entries dropped, and entrance
    entries anonymised at once when the person's 90 days are already over.
    """
    people = deleted_people(session)
    events = linked_events(session, device.id, people)
    if not events:
        return 0
    requests = _latest_deletions(
        session, {e.subject_id for e in events} | {e.granted_by for e in events}
    )
    changed = 0
    for event in events:
        for person_id in (event.subject_id, event.granted_by):
            request = requests.get(person_id or "")
            if request is None or event.id in held_event_ids(session, request.id):
                continue
            if event.subject_id == person_id:
                if event.door_kind == DoorKind.RESIDENCE:
                    _delete_event(session, event, photo_dir)
                    changed += 1
                    break
                if request.anonymised_at is not None:
                    _anonymise_event(session, event, photo_dir, now)
                    changed += 1
            elif event.door_kind == DoorKind.RESIDENCE or request.anonymised_at is not None:
                event.granted_by = None
                changed += 1
    session.flush()
    return changed


def _latest_deletions(
    session: Session, people: Iterable[str | None]
) -> dict[str, DataSubjectRequest]:
    wanted = sorted({p for p in people if p})
    found: dict[str, DataSubjectRequest] = {}
    rows = session.scalars(
        select(DataSubjectRequest)
        .where(
            DataSubjectRequest.kind == RequestKind.DELETION,
            DataSubjectRequest.executed_at.is_not(None),
            DataSubjectRequest.person_id.in_(wanted),
        )
        .order_by(DataSubjectRequest.executed_at)
    )
    for row in rows:
        assert row.person_id is not None
        found[row.person_id] = row
    return found
