"""A page of history as a person reads it: the entries `service.read_events` returns (the one
visibility query, audited like the JSON route), named, with the lock's log gaps at the
reader's own doors placed among them (R4).

Nothing here filters events: names, door names and roles are looked up only for the
entries the query already cleared, and photos are offered under the same P4 rule as the
API's event list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth.permissions import Principal, Standing
from keyturn.cloud.history import service
from keyturn.cloud.history.queries import EventFilter, decode_cursor
from keyturn.cloud.history.schemas import StoredEvent, event_fields
from keyturn.cloud.models import Device, Door, Event, LogGap, Person, RoleMembership
from keyturn.cloud.people.profiles import known_name, portfolio_of
from keyturn.rules.types import CredentialType, Reason, Role
from keyturn.rules.visibility import Viewer

PAGE_SIZE = 30

CREDENTIAL_WORDS = {
    CredentialType.MOBILE_KEY: "phone key",
    CredentialType.PERSONAL_DOORCODE: "doorcode",
    CredentialType.SINGLE_DAY_CODE: "single-day code",
    CredentialType.ONE_TIME_CODE: "one-time code",
    CredentialType.KEYCARD: "keycard",
    CredentialType.MECHANICAL_KEY: "mechanical key",
}
REASON_WORDS = {
    Reason.GRANTED: "Opened",
    Reason.UNKNOWN_CREDENTIAL: "Refused: not recognised",
    Reason.WRONG_DOOR: "Refused: not valid at this door",
    Reason.OUTSIDE_SCHEDULE: "Refused: outside its hours",
    Reason.NOT_YET_VALID: "Refused: not valid yet",
    Reason.EXPIRED: "Refused: expired",
    Reason.REVOKED: "Refused: revoked",
    Reason.SUSPENDED: "Refused: suspended",
    Reason.KEYPAD_LOCKED_OUT: "Refused: keypad locked after wrong codes",
    Reason.LOCKDOWN: "Refused: building in lockdown",
}
ROLE_WORDS = {
    Role.PORTFOLIO_MANAGER: "building management",
    Role.PROPERTY_MANAGER: "property manager",
    Role.STAFF: "staff",
    Role.RESIDENT: "resident",
    Role.GUEST: "guest",
    Role.SERVICE_PROVIDER: "service provider",
    Role.COURIER: "courier",
}
# When several roles apply, the one a reader most needs to know.
ROLE_ORDER = (
    Role.STAFF,
    Role.PROPERTY_MANAGER,
    Role.PORTFOLIO_MANAGER,
    Role.SERVICE_PROVIDER,
    Role.COURIER,
    Role.RESIDENT,
    Role.GUEST,
)


@dataclass(frozen=True, slots=True)
class EntryShown:
    """One entry as the page shows it."""

    event_id: str
    occurred_at: datetime
    door_name: str
    who: str
    role: str | None
    mine: bool
    my_guest: bool
    what: str
    granted: bool | None
    credential: str | None
    clock_uncertain: bool
    has_photo: bool


@dataclass(frozen=True, slots=True)
class GapRow:
    """A stretch of a lock's journal the cloud will never receive, at one of the reader's doors."""

    door_name: str
    starts_at: datetime | None
    ends_at: datetime | None
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryShown:
    """One page: entries and gap rows, newest first, and the cursor of the next page."""

    rows: list[EntryShown | GapRow]
    next_cursor: str | None


def history_shown(
    *,
    session: Session,
    principal: Principal,
    property_id: str,
    cursor: str | None,
    standing: Standing | None,
    now: datetime,
    limit: int = PAGE_SIZE,
) -> HistoryShown:
    """A page of the caller's history at the property, read and audited by `read_events`
    exactly as the JSON list is, named for a person; BadCursor for a foreign cursor."""
    read = service.read_events(
        session=session,
        principal=principal,
        property_id=property_id,
        filters=EventFilter(property_id=property_id),
        cursor=cursor,
        limit=limit,
        standing=standing,
        now=now,
    )
    events = list(read.page.events)
    entries = _named(session, read.viewer, property_id, events)
    newer_than = decode_cursor(cursor)[0] if cursor is not None else None
    older_than = events[-1].occurred_at if read.page.next_cursor is not None and events else None
    gaps = [
        gap
        for gap in _gaps_at_my_doors(session, read.viewer, property_id)
        if (newer_than is None or _gap_time(gap) < newer_than)
        and (older_than is None or _gap_time(gap) >= older_than)
    ]
    rows: list[EntryShown | GapRow] = [*entries, *gaps]
    rows.sort(key=_row_time, reverse=True)
    return HistoryShown(rows, read.page.next_cursor)


def _row_time(row: EntryShown | GapRow) -> datetime:
    return row.occurred_at if isinstance(row, EntryShown) else _gap_time(row)


def _gap_time(gap: GapRow) -> datetime:
    return gap.starts_at or gap.detected_at


def _named(
    session: Session, viewer: Viewer, property_id: str, events: list[StoredEvent]
) -> list[EntryShown]:
    """The entries with door names, people's names as the portfolio knows them, and the roles
    they hold at the property; looked up for these entries only."""
    door_ids = {event.door_id for event in events}
    people = {event.subject_id for event in events if event.subject_id is not None}
    doors = dict(
        session.execute(select(Door.id, Door.name).where(Door.id.in_(sorted(door_ids)))).all()
    )
    portfolio = portfolio_of(session, property_id)
    names = dict(
        session.execute(
            select(Person.id, known_name(Person.id, portfolio)).where(Person.id.in_(sorted(people)))
        ).all()
    )
    roles: dict[str, set[Role]] = {}
    for person_id, held_role in session.execute(
        select(RoleMembership.person_id, RoleMembership.role).where(
            RoleMembership.person_id.in_(sorted(people)),
            RoleMembership.property_id == property_id,
            RoleMembership.in_force(),
        )
    ):
        roles.setdefault(person_id, set()).add(Role(held_role))
    shown = []
    for event in events:
        fields = event_fields(event, viewer)
        subject = event.subject_id
        mine = subject == viewer.person_id
        held = roles.get(subject, set()) if subject is not None else set()
        role = next((ROLE_WORDS[r] for r in ROLE_ORDER if r in held), None)
        if subject is None:
            who = "Someone unknown" if event.reason is not None else "The lock"
        else:
            # Their own entries too: a household's entries read alike, "you" marks the reader's.
            who = names.get(subject, "A former occupant")
        shown.append(
            EntryShown(
                event_id=event.id,
                occurred_at=event.occurred_at,
                door_name=doors.get(event.door_id, "A door"),
                who=who,
                role=None if mine else role,
                mine=mine,
                my_guest=not mine and event.granted_by == viewer.person_id,
                what=_what(event),
                granted=None if event.reason is None else event.reason == Reason.GRANTED,
                credential=CREDENTIAL_WORDS.get(event.credential_type)
                if event.credential_type is not None
                else None,
                clock_uncertain=event.clock_uncertain,
                has_photo=bool(fields["has_photo"]),
            )
        )
    return shown


def _what(event: StoredEvent) -> str:
    if event.reason is not None:
        return REASON_WORDS.get(event.reason, "Refused")
    return event.kind.replace("_", " ").capitalize()


def _gaps_at_my_doors(session: Session, viewer: Viewer, property_id: str) -> list[GapRow]:
    """Log gaps of the locks at the doors where the reader holds or held resident status,
    with the times of the entries the lock kept on either side of the loss."""
    my_doors = sorted({period.door_id for period in viewer.resident_periods})
    if not my_doors:
        return []
    door_of_gap = func.coalesce(LogGap.door_id, Device.door_id)
    rows = session.execute(
        select(LogGap, Door.name)
        .join(Device, Device.id == LogGap.device_id)
        .join(Door, Door.id == door_of_gap)
        .where(Device.property_id == property_id, door_of_gap.in_(my_doors))
        .order_by(LogGap.detected_at.desc(), LogGap.id)
    ).all()
    gaps = []
    for gap, door_name in rows:
        before = session.scalar(
            select(func.max(Event.occurred_at)).where(
                Event.device_id == gap.device_id, Event.device_seq < gap.from_seq
            )
        )
        after = (
            session.scalar(
                select(func.min(Event.occurred_at)).where(
                    Event.device_id == gap.device_id, Event.device_seq > gap.to_seq
                )
            )
            if gap.to_seq is not None
            else None
        )
        gaps.append(GapRow(door_name, before, after, gap.detected_at))
    return gaps
