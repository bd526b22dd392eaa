"""A page of access history with the names a person reads: the portal's history page.

`read_history` is `service.read_events` (the one visibility query, its read audited exactly as
the API's /events audits it) with the names the JSON leaves to the client: doors by name,
people as the property's portfolio knows them, whether this caller may open each photo (the
API's `has_photo`), and the lock's log gaps that fall in the listed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth.permissions import Action, Principal, Standing, may
from keyturn.cloud.history.queries import EventFilter
from keyturn.cloud.history.schemas import Outcome, event_facts
from keyturn.cloud.history.service import read_events
from keyturn.cloud.models import Device, Door, Event, LogGap, Person, Property, RoleMembership
from keyturn.cloud.people.profiles import known_name
from keyturn.rules.photos import can_view_photo
from keyturn.rules.types import CredentialType, Reason


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One listed event as a person reads it; `person_name` None when the event names nobody
    this caller may be told of."""

    event_id: str
    occurred_at: datetime
    door_name: str
    kind: str
    person_name: str | None
    credential_type: CredentialType | None
    outcome: Outcome | None
    reason: Reason | None
    clock_uncertain: bool
    photo: bool


@dataclass(frozen=True, slots=True)
class GapRow:
    """Entries a door's lock lost: after `after` (its last entry before) and before `before`
    (its first entry after; None while the lock has sent nothing since)."""

    door_name: str
    after: datetime | None
    before: datetime | None
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class HistoryRead:
    rows: list[HistoryRow]
    gaps: list[GapRow]
    next_cursor: str | None
    doors: list[Choice]
    people: list[Choice]


def read_history(
    *,
    session: Session,
    principal: Principal,
    property_id: str,
    filters: EventFilter,
    cursor: str | None,
    limit: int,
    standing: Standing | None,
    now: datetime,
    with_gaps: bool,
    with_people: bool,
) -> HistoryRead:
    """One page of the property's events the caller may see, newest first, named; its read
    is audited as the API's (`read_events`). `with_gaps` adds the lock log gaps in the
    listed time, `with_people` the people of the property to filter by."""
    read = read_events(
        session=session,
        principal=principal,
        property_id=property_id,
        filters=filters,
        cursor=cursor,
        limit=limit,
        standing=standing,
        now=now,
    )
    events = read.page.events
    portfolio_id = select(Property.portfolio_id).where(Property.id == property_id).scalar_subquery()
    # Core rows, as the page read itself: the ORM's result handling costs more than these.
    connection = session.connection()
    gapped = (
        select(LogGap.id).where(LogGap.door_id == Door.id).exists() if with_gaps else literal(False)
    )
    door_rows = connection.execute(
        select(Door.id, Door.name, gapped)
        .where(Door.property_id == property_id)
        .order_by(Door.name, Door.id)
    ).all()
    doors = {door_id: name for door_id, name, _ in door_rows}
    any_gaps = any(has_gap for _, _, has_gap in door_rows)
    subjects = {e.subject_id for e in events if e.subject_id}
    names, people = _names(session, property_id, subjects, portfolio_id, with_people)
    photos = any(e.photo_id for e in events) and may(
        session, principal, Action.PHOTOS_READ, property_id
    )
    rows = [
        HistoryRow(
            event_id=event.id,
            occurred_at=event.occurred_at,
            door_name=doors.get(event.door_id, "a removed door"),
            kind=event.kind,
            person_name=names.get(event.subject_id) if event.subject_id else None,
            credential_type=event.credential_type,
            outcome=None
            if event.reason is None
            else Outcome.GRANTED
            if event.reason == Reason.GRANTED
            else Outcome.DENIED,
            reason=event.reason,
            clock_uncertain=event.clock_uncertain,
            photo=photos
            and event.photo_id is not None
            and can_view_photo(read.viewer, event_facts(event), False),
        )
        for event in events
    ]
    gaps: list[GapRow] = []
    if any_gaps:
        # The listed time: from the page's oldest entry (or the filter's first day, on the
        # last page) to its newest entry (or the filter's end, on the first page).
        top = min(now, filters.until) if filters.until is not None else now
        newest = top if cursor is None or not events else events[0].occurred_at
        oldest = events[-1].occurred_at if events and read.page.next_cursor else filters.since
        gaps = log_gaps_between(
            session=session,
            property_id=property_id,
            door_id=filters.door_id,
            oldest=oldest,
            newest=newest,
        )
    return HistoryRead(
        rows=rows,
        gaps=gaps,
        next_cursor=read.page.next_cursor,
        doors=[Choice(door_id, name) for door_id, name in doors.items()],
        people=people,
    )


def _names(
    session: Session,
    property_id: str,
    subjects: set[str],
    portfolio_id: Any,
    with_people: bool,
) -> tuple[dict[str, str], list[Choice]]:
    """The names of the listed people and, `with_people`, the people with a role here to
    filter by (by name), in one statement."""
    members = select(RoleMembership.person_id).where(
        RoleMembership.property_id == property_id, RoleMembership.in_force()
    )
    wanted: list[ColumnElement[bool]] = []
    if subjects:
        wanted.append(Person.id.in_(sorted(subjects)))
    if with_people:
        wanted.append(Person.id.in_(members))
    if not wanted:
        return {}, []
    name = known_name(Person.id, portfolio_id)
    member = Person.id.in_(members) if with_people else literal(False)
    rows = session.connection().execute(
        select(Person.id, name, member).where(or_(*wanted)).order_by(name, Person.id)
    )
    names: dict[str, str] = {}
    people: list[Choice] = []
    for person_id, label, is_member in rows:
        names[person_id] = label
        if is_member:
            people.append(Choice(person_id, label))
    return names, people


def log_gaps_between(
    *,
    session: Session,
    property_id: str,
    door_id: str | None,
    oldest: datetime | None,
    newest: datetime,
) -> list[GapRow]:
    """The log gaps of the property's locks (of one door's, with `door_id`) whose lost
    entries may fall between `oldest` (None: the beginning) and `newest`, newest first.

    A gap is placed by its lock's last entry before it and first entry after it.
    """
    query = (
        select(LogGap.device_id, LogGap.from_seq, LogGap.to_seq, LogGap.detected_at, Door.name)
        .join(Device, Device.id == LogGap.device_id)
        .outerjoin(Door, Door.id == LogGap.door_id)
        .where(Device.property_id == property_id)
    )
    if door_id is not None:
        query = query.where(LogGap.door_id == door_id)
    found: list[GapRow] = []
    for device_id, from_seq, to_seq, detected_at, door_name in session.execute(query):
        after = session.scalar(
            select(func.max(Event.occurred_at)).where(
                Event.device_id == device_id, Event.device_seq < from_seq
            )
        )
        before = (
            None
            if to_seq is None
            else session.scalar(
                select(func.min(Event.occurred_at)).where(
                    Event.device_id == device_id, Event.device_seq > to_seq
                )
            )
        )
        starts_late = after is not None and after > newest
        ends_early = oldest is not None and (before or detected_at) < oldest
        if not starts_late and not ends_early:
            found.append(GapRow(door_name or "a removed door", after, before, detected_at))
    found.sort(key=lambda gap: gap.before or gap.detected_at, reverse=True)
    return found
