"""The retention job: delete or anonymise what the law no longer lets the cloud keep (R1-R3),
remove former holders' reference data (R6), and drop expired audit records and old mail.

Work goes property by property in chunks, each its own short transaction, and every chunk
selects what is still left to do, so a run killed at any point is finished by the next run
with the same end state. Photo files are unlinked before the transaction that deletes their
rows (and with them the only copy of each photo's key) commits.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeAlias

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from keyturn.cloud.models import (
    AuditRecord,
    Device,
    Door,
    Doorcode,
    Event,
    Grant,
    Key,
    Keycard,
    MailState,
    MobileKeyRegistration,
    OneTimeCode,
    OutboxMessage,
    Photo,
    Property,
    SingleDayCode,
)
from keyturn.cloud.privacy.deletion import anonymise_due
from keyturn.cloud.privacy.retention.policies import (
    SHORTEST_LIMIT_DAYS,
    PropertyRetention,
    retention_for,
)

CHUNK_SIZE = 1000
FINISHED_MAIL_KEEP = timedelta(days=90)
SERVICE = "(service-wide)"

EVENTS_DELETED = "events_deleted"
EVENTS_ANONYMISED = "events_anonymised"
PHOTOS_ERASED = "photos_erased"
GRANTS_DELETED = "grants_deleted"
CREDENTIALS_DELETED = "credentials_deleted"
PHONES_DELETED = "phone_registrations_deleted"
AUDIT_DELETED = "audit_records_deleted"
MAIL_DELETED = "outbox_messages_deleted"
# Events of people who asked for deletion, anonymised 90 days after the request (D6).
ERASED_PEOPLE_ANONYMISED = "erased_people_events_anonymised"
PROPERTY_COUNTS = (
    EVENTS_DELETED,
    EVENTS_ANONYMISED,
    PHOTOS_ERASED,
    GRANTS_DELETED,
    CREDENTIALS_DELETED,
)
SERVICE_COUNTS = (PHONES_DELETED, AUDIT_DELETED, MAIL_DELETED, ERASED_PEOPLE_ANONYMISED)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point the job passed: just before or just after a chunk's commit."""

    stage: Literal["before_commit", "after_commit"]
    property_id: str
    step: str
    rows: int


Hook = Callable[[Checkpoint], None]
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


@dataclass
class PropertySweep:
    """What the job did (or, in a dry run, would do) at one property."""

    property_id: str
    name: str
    jurisdiction: str
    days: int
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class RetentionReport:
    """The outcome of one run, per property and for the service-wide data."""

    now: datetime
    dry_run: bool
    properties: list[PropertySweep] = field(default_factory=list)
    service: Counter[str] = field(default_factory=Counter)
    chunks: int = 0
    longest_transaction_s: float = 0.0

    def total(self, count: str) -> int:
        return self.service[count] + sum(sweep.counts[count] for sweep in self.properties)

    def as_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "properties": [
                {
                    "property_id": sweep.property_id,
                    "name": sweep.name,
                    "jurisdiction": sweep.jurisdiction,
                    "retention_days": sweep.days,
                    **{count: sweep.counts[count] for count in PROPERTY_COUNTS},
                }
                for sweep in self.properties
            ],
            "service": {count: self.service[count] for count in SERVICE_COUNTS},
            "chunks": self.chunks,
            "longest_transaction_s": round(self.longest_transaction_s, 4),
        }


@dataclass(frozen=True, slots=True)
class _Step:
    """One kind of work: the rows still to do (ids, plus `at` when ordered) and the change."""

    count: str
    candidates: AnySelect
    apply: Callable[[Session, Sequence[AnyRow]], Counter[str]]
    ordered_by: ColumnElement[datetime] | None = None
    # Dry runs count this instead of `candidates` where an earlier step takes some rows.
    planned: AnySelect | None = None


def run_retention(
    factory: sessionmaker[Session],
    now: datetime,
    *,
    photo_dir: Path,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
    hook: Hook | None = None,
) -> RetentionReport:
    """Apply every property's retention as of `now`, or with `dry_run` count what it would do.

    `hook` sees every checkpoint; the CLI drives its progress bar with it, the tests
    interrupt the job with it.
    """
    job = _Job(factory, now, photo_dir, chunk_size, hook)
    report = RetentionReport(now=now, dry_run=dry_run)
    with factory() as session:
        properties = session.execute(
            select(
                Property.id, Property.name, Property.jurisdiction, Property.retention_days_override
            ).order_by(Property.id)
        ).all()
    for property_id, name, jurisdiction, override in properties:
        retention = retention_for(jurisdiction, override, now)
        sweep = PropertySweep(property_id, name, jurisdiction, retention.policy.days)
        for step in job.property_steps(property_id, retention):
            sweep.counts += job.plan(step) if dry_run else job.drain(property_id, step)
        report.properties.append(sweep)
    for step in job.service_steps():
        report.service += job.plan(step) if dry_run else job.drain(SERVICE, step)
    if not dry_run:
        with factory.begin() as session:
            report.service[ERASED_PEOPLE_ANONYMISED] += anonymise_due(session, now, photo_dir)
    report.chunks = job.chunks
    report.longest_transaction_s = job.longest
    return report


class _Job:
    """The steps of one run and the chunk loop that applies them."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        now: datetime,
        photo_dir: Path,
        chunk_size: int,
        hook: Hook | None,
    ) -> None:
        self.factory = factory
        self.now = now
        self.photo_dir = photo_dir.resolve()
        self.chunk_size = chunk_size
        self.hook = hook
        self.chunks = 0
        self.longest = 0.0

    def plan(self, step: _Step) -> Counter[str]:
        """The rows the step would change, counted without changing them."""
        query = step.planned if step.planned is not None else step.candidates
        with self.factory() as session:
            rows = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        return Counter({step.count: rows})

    def drain(self, scope: str, step: _Step) -> Counter[str]:
        """Apply the step a chunk at a time until nothing is left, one transaction each."""
        done: Counter[str] = Counter()
        cursor: datetime | None = None
        while True:
            query = step.candidates
            if step.ordered_by is not None:
                if cursor is not None:
                    query = query.where(step.ordered_by >= cursor)
                query = query.order_by(step.ordered_by)
            started = time.perf_counter()
            with self.factory.begin() as session:
                rows = session.execute(query.limit(self.chunk_size)).all()
                if not rows:
                    return done
                counts = step.apply(session, rows)
                self._checkpoint("before_commit", scope, step, len(rows))
            self.longest = max(self.longest, time.perf_counter() - started)
            self.chunks += 1
            done += counts
            self._checkpoint("after_commit", scope, step, len(rows))
            if len(rows) < self.chunk_size:
                return done
            if step.ordered_by is not None:
                cursor = rows[-1].at

    def _checkpoint(
        self, stage: Literal["before_commit", "after_commit"], scope: str, step: _Step, rows: int
    ) -> None:
        if self.hook is not None:
            self.hook(Checkpoint(stage, scope, step.count, rows))

    # Steps per property, in order: events deleted first, so none is anonymised in vain.

    def property_steps(self, property_id: str, retention: PropertyRetention) -> Iterator[_Step]:
        anonymise_before = retention.anonymise_before
        deletable = and_(
            Event.property_id == property_id,
            Event.occurred_at < retention.delete_before,
            _acknowledged(),
        )
        yield _Step(
            EVENTS_DELETED,
            select(Event.id, Event.occurred_at.label("at"), Event.photo_id).where(deletable),
            self._delete_events,
            ordered_by=Event.occurred_at.expression,
        )
        live = and_(
            Event.property_id == property_id,
            Event.anonymised_at.is_(None),
            Event.occurred_at < anonymise_before,
        )
        yield _Step(
            EVENTS_ANONYMISED,
            select(Event.id, Event.occurred_at.label("at"), Event.photo_id).where(live),
            self._anonymise_events,
            ordered_by=Event.occurred_at.expression,
            planned=select(Event.id).where(live, ~deletable),
        )
        expired_photo = and_(Photo.property_id == property_id, Photo.taken_at < anonymise_before)
        with_expired_event = Photo.id.in_(
            select(Event.photo_id).where(
                Event.property_id == property_id,
                Event.occurred_at < anonymise_before,
                Event.photo_id.is_not(None),
            )
        )
        yield _Step(
            PHOTOS_ERASED,
            select(Photo.id, Photo.storage_key).where(expired_photo),
            self._erase_photo_rows,
            planned=select(Photo.id).where(
                Photo.property_id == property_id, or_(expired_photo, with_expired_event)
            ),
        )
        yield from self._reference_steps(property_id, retention.reference_before)

    def _reference_steps(self, property_id: str, before: datetime) -> Iterator[_Step]:
        """R6: ended grants, then credentials of people with no grant left here."""
        ended = _ended_before(before)
        here = select(Key.id).where(Key.property_id == property_id)
        yield _deleting(
            GRANTS_DELETED, Grant, select(Grant.id).where(Grant.key_id.in_(here), ended)
        )
        doors = select(Door.id).where(Door.property_id == property_id)

        def holds_grant(person_id: InstrumentedAttribute[str]) -> ColumnElement[bool]:
            # Counting only grants the step above keeps, so dry runs agree with real ones.
            return exists().where(Grant.person_id == person_id, Grant.key_id.in_(here), ~ended)

        yield _deleting(
            CREDENTIALS_DELETED,
            Doorcode,
            select(Doorcode.id).where(
                Doorcode.door_id.in_(doors),
                or_(
                    Doorcode.revoked_at < before,
                    and_(Doorcode.created_at < before, ~holds_grant(Doorcode.person_id)),
                ),
            ),
        )
        yield _deleting(
            CREDENTIALS_DELETED,
            Keycard,
            select(Keycard.id).where(
                Keycard.property_id == property_id,
                Keycard.created_at < before,
                ~holds_grant(Keycard.person_id),
            ),
        )
        yield _deleting(
            CREDENTIALS_DELETED,
            SingleDayCode,
            select(SingleDayCode.id).where(
                SingleDayCode.door_id.in_(doors), SingleDayCode.local_date < before.date()
            ),
        )
        yield _deleting(
            CREDENTIALS_DELETED,
            OneTimeCode,
            select(OneTimeCode.id).where(
                OneTimeCode.door_id.in_(doors),
                or_(OneTimeCode.revoked_at < before, OneTimeCode.first_used_at < before),
            ),
        )

    def service_steps(self) -> Iterator[_Step]:
        """Data that belongs to no one property: phones, audit records, finished mail."""
        before = self.now - timedelta(days=SHORTEST_LIMIT_DAYS)
        # A phone serves live grants only: it goes once its person has held none for that long.
        no_grant = ~exists().where(
            Grant.person_id == MobileKeyRegistration.person_id, ~_ended_before(before)
        )
        yield _deleting(
            PHONES_DELETED,
            MobileKeyRegistration,
            select(MobileKeyRegistration.id).where(
                or_(
                    MobileKeyRegistration.revoked_at < before,
                    and_(MobileKeyRegistration.registered_at < before, no_grant),
                )
            ),
        )
        yield _deleting(
            AUDIT_DELETED,
            AuditRecord,
            select(AuditRecord.id).where(AuditRecord.expires_at <= self.now),
        )
        yield _deleting(
            MAIL_DELETED,
            OutboxMessage,
            select(OutboxMessage.id).where(
                OutboxMessage.state.in_([MailState.SENT, MailState.FAILED, MailState.SUPPRESSED]),
                OutboxMessage.created_at < self.now - FINISHED_MAIL_KEEP,
            ),
        )

    # The changes, each inside the chunk's transaction.

    def _delete_events(self, session: Session, rows: Sequence[AnyRow]) -> Counter[str]:
        erased = self._erase_photos(session, [row.photo_id for row in rows if row.photo_id])
        session.execute(
            delete(Event)
            .where(_among(session, Event.id, [row.id for row in rows]))
            .execution_options(synchronize_session=False)
        )
        return Counter({EVENTS_DELETED: len(rows), PHOTOS_ERASED: erased})

    def _anonymise_events(self, session: Session, rows: Sequence[AnyRow]) -> Counter[str]:
        """R3: door, time, outcome and credential type stay; every link to a person goes."""
        erased = self._erase_photos(session, [row.photo_id for row in rows if row.photo_id])
        session.execute(
            update(Event)
            .where(_among(session, Event.id, [row.id for row in rows]))
            .values(
                subject_id=None,
                granted_by=None,
                credential_id=None,
                grant_id=None,
                photo_id=None,
                detail=None,
                anonymised_at=self.now,
            )
            .execution_options(synchronize_session=False)
        )
        return Counter({EVENTS_ANONYMISED: len(rows), PHOTOS_ERASED: erased})

    def _erase_photos(self, session: Session, photo_ids: list[str]) -> int:
        if not photo_ids:
            return 0
        rows = session.execute(
            select(Photo.id, Photo.storage_key).where(Photo.id.in_(photo_ids))
        ).all()
        return self._erase_photo_rows(session, rows)[PHOTOS_ERASED]

    def _erase_photo_rows(self, session: Session, rows: Sequence[AnyRow]) -> Counter[str]:
        """Unlink each ciphertext, then delete the row that holds the photo's only key."""
        for row in rows:
            path = (self.photo_dir / row.storage_key).resolve()
            if path.is_relative_to(self.photo_dir):
                path.unlink(missing_ok=True)
        if rows:
            session.execute(
                delete(Photo)
                .where(_among(session, Photo.id, [row.id for row in rows]))
                .execution_options(synchronize_session=False)
            )
        return Counter({PHOTOS_ERASED: len(rows)})


def _among(
    session: Session, column: InstrumentedAttribute[str], ids: list[str]
) -> ColumnElement[bool]:
    """column IN ids: on PostgreSQL one array parameter, not one parameter per id."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(ids, ARRAY(String)))
    return column.in_(ids)


def _ended_before(before: datetime) -> ColumnElement[bool]:
    """Grants that ended or were revoked before `before`."""
    return or_(
        and_(Grant.revoked_at.is_not(None), Grant.revoked_at < before),
        and_(Grant.ends_at.is_not(None), Grant.ends_at < before),
    )


def _acknowledged() -> ColumnElement[bool]:
    """Events whose sequence number the device already counts as stored.

    Deleting an entry above the device's watermark would later look like log loss (R4), so
    such entries are only anonymised until the watermark passes them.
    """
    return or_(
        Event.device_id.is_(None),
        exists().where(Device.id == Event.device_id, Device.stored_through_seq >= Event.device_seq),
    )


def _deleting(count: str, model: Any, candidates: AnySelect) -> _Step:
    """A step that deletes the candidate rows of `model` by id."""

    def apply(session: Session, rows: Sequence[AnyRow]) -> Counter[str]:
        session.execute(
            delete(model)
            .where(_among(session, model.id, [row.id for row in rows]))
            .execution_options(synchronize_session=False)
        )
        return Counter({count: len(rows)})

    return _Step(count, candidates, apply)
