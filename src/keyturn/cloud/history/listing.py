"""A page of access history with the names a person reads: the portal's history page.

`read_history` is `service.read_events` (the one visibility query, its read audited exactly as
the API's /events audits it) with the names the JSON leaves to the client: doors by name,
people as the property's portfolio knows them, whether this caller may open each photo (the
API's `has_photo`), and the lock's log gaps that fall in the listed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session

from keyturn.cloud.auth.permissions import Action, Principal, Standing, may
from keyturn.cloud.history.queries import EventFilter
from keyturn.cloud.history.schemas import Outcome, event_facts
from keyturn.cloud.history.service import read_events
from keyturn.cloud.models import Device, Door, Event, LogGap, Person, Property
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
    person: Choice | None  # the person the read was filtered by, named


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
    names_people: bool,
) -> HistoryRead:
    """One page of the property's events the caller may see, newest first, named; its read
    is audited as the API's (`read_events`). `with_gaps` adds the lock log gaps in the
    listed time; `names_people` (a caller who may read the people list) names the person the
    read is filtered by even when no listed entry is theirs."""
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
    subjects = {e.subject_id for e in events if e.subject_id}
    if filters.subject_id is not None and names_people:
        subjects.add(filters.subject_id)
    door_rows, names = _doors_and_names(session, property_id, subjects, with_gaps)
    doors = {door_id: name for door_id, name, _ in door_rows}
    any_gaps = any(has_gap for _, _, has_gap in door_rows)
    photos = any(e.photo_id for e in events) and may(
        session, principal, Action.PHOTOS_READ, property_id, standing=standing
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
        person=None
        if filters.subject_id is None or filters.subject_id not in names
        else Choice(filters.subject_id, names[filters.subject_id]),
    )


# The property's doors (whether each has a log gap, or False without `with_gaps`) and the
# names of the listed people as the property's portfolio knows them, in one statement built
# once: a statement costs a round trip, and the names wait for the page's events anyway.
_DOOR, _PERSON = "door", "person"
_PORTFOLIO = select(Property.portfolio_id).where(Property.id == bindparam("property"))
_NAMED = select(
    literal(_PERSON).label("what"),
    Person.id,
    known_name(Person.id, _PORTFOLIO.scalar_subquery()).label("name"),
    literal(False).label("gap"),
).where(Person.id.in_(bindparam("people", expanding=True)))
_DOORS_AND_NAMES = {
    with_gaps: union_all(
        select(
            literal(_DOOR).label("what"),
            Door.id,
            Door.name.label("name"),
            (
                select(LogGap.id).where(LogGap.door_id == Door.id).exists()
                if with_gaps
                else literal(False)
            ).label("gap"),
        ).where(Door.property_id == bindparam("property")),
        _NAMED,
    ).order_by("what", "name", "id")
    for with_gaps in (True, False)
}


def _doors_and_names(
    session: Session, property_id: str, people: set[str], with_gaps: bool
) -> tuple[list[tuple[str, str, bool]], dict[str, str]]:
    """The property's doors by name (id, name, has a log gap) and these people's names by id,
    as the property's portfolio knows them."""
    rows = session.connection().execute(
        _DOORS_AND_NAMES[with_gaps], {"property": property_id, "people": sorted(people)}
    )
    doors: list[tuple[str, str, bool]] = []
    names: dict[str, str] = {}
    for what, row_id, name, gap in rows:
        if what == _DOOR:
            doors.append((row_id, name, bool(gap)))
        else:
            names[row_id] = name
    return doors, names


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
