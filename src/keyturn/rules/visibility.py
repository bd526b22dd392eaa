"""Who may see which access event (V1-V5), written once as a small expression tree.

The tree is plain data: `can_view_event` evaluates it in Python and the cloud compiles the
same tree to a SQL filter, so the two can never disagree about who sees what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from keyturn.rules.types import DoorKind


@dataclass(frozen=True, slots=True)
class EventFacts:
    """The columns of an event that visibility depends on.

    `subject_id` is the person who made the attempt (None when unknown, e.g. a wrong code
    or a mechanical key), `granted_by` the person who created the grant or code used, and
    `by_resident` whether the subject had resident status at that door at the time; ingest
    also sets it for mechanical-key events at a residence door, as only residents hold
    those keys. `occurred_at` is when the attempt happened (the lock's time).
    """

    property_id: str
    door_id: str
    door_kind: DoorKind
    subject_id: str | None
    granted_by: str | None
    by_resident: bool
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ResidentPeriod:
    """A time during which a person held resident status at one door: from `starts_at`
    (included) to `ends_at` (excluded; None while it lasts)."""

    door_id: str
    starts_at: datetime
    ends_at: datetime | None = None

    def covers(self, door_id: str, moment: datetime) -> bool:
        return (
            door_id == self.door_id
            and self.starts_at <= moment
            and (self.ends_at is None or moment < self.ends_at)
        )


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person asking, with their periods of resident status at the residence doors where
    the cloud has found they hold it now, and the properties they manage (and may read the
    history of) or hold the security-viewer permission at."""

    person_id: str
    resident_periods: frozenset[ResidentPeriod] = frozenset()
    managed_property_ids: frozenset[str] = frozenset()
    security_viewer_property_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EventField:
    """A column of the event (an EventFacts attribute)."""

    name: str


@dataclass(frozen=True, slots=True)
class ViewerField:
    """An attribute of the Viewer; a compiler binds it as a query parameter."""

    name: str


@dataclass(frozen=True, slots=True)
class Const:
    value: str | bool


Operand: TypeAlias = EventField | ViewerField | Const


@dataclass(frozen=True, slots=True)
class Eq:
    """Equal, and false when either side is None, as SQL's `=` is never true on NULL."""

    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Ne:
    """Not equal, and false when either side is None, as SQL's `<>` is never true on NULL."""

    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class In:
    """The operand is a member of a set-valued Viewer attribute; false when None."""

    item: Operand
    collection: ViewerField


@dataclass(frozen=True, slots=True)
class During:
    """The event's door and time fall within one of the periods (a set of ResidentPeriod) of
    a Viewer attribute; false when either event value is None."""

    door: EventField
    moment: EventField
    periods: ViewerField


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Expr, ...]


Expr: TypeAlias = Eq | Ne | In | During | And | Or


@dataclass(frozen=True, slots=True)
class _EventColumns:
    property_id: EventField = EventField("property_id")
    door_id: EventField = EventField("door_id")
    door_kind: EventField = EventField("door_kind")
    subject_id: EventField = EventField("subject_id")
    granted_by: EventField = EventField("granted_by")
    by_resident: EventField = EventField("by_resident")
    occurred_at: EventField = EventField("occurred_at")


@dataclass(frozen=True, slots=True)
class _ViewerAttributes:
    person_id: ViewerField = ViewerField("person_id")
    resident_periods: ViewerField = ViewerField("resident_periods")
    managed_property_ids: ViewerField = ViewerField("managed_property_ids")
    security_viewer_property_ids: ViewerField = ViewerField("security_viewer_property_ids")


EVENT = _EventColumns()
VIEWER = _ViewerAttributes()

RESIDENCE = Const(DoorKind.RESIDENCE.value)

# V1: an entry by someone with resident status at a residence door is private to that door.
NOT_PRIVATE_TO_RESIDENTS = Or((Ne(EVENT.door_kind, RESIDENCE), Eq(EVENT.by_resident, Const(False))))

# V2: a residence door's entry made while the viewer held resident status at that door; a
# later status opens nothing earlier, and a new tenant sees none of the previous ones' entries.
WHILE_RESIDENT_THERE = And(
    (
        Eq(EVENT.door_kind, RESIDENCE),
        During(EVENT.door_id, EVENT.occurred_at, VIEWER.resident_periods),
    )
)

VISIBILITY_RULE: Expr = Or(
    (
        # V5: your own entries, everywhere.
        Eq(EVENT.subject_id, VIEWER.person_id),
        # V5: entries made with a grant you created, bounded by V1.
        And((Eq(EVENT.granted_by, VIEWER.person_id), NOT_PRIVATE_TO_RESIDENTS)),
        # V1, V2: residents see everything at their residence door while they live there.
        WHILE_RESIDENT_THERE,
        # V3, V4: managers see their properties, except residents' own residence entries.
        And((In(EVENT.property_id, VIEWER.managed_property_ids), NOT_PRIVATE_TO_RESIDENTS)),
    )
)


def evaluate(expr: Expr, event: object, viewer: Viewer) -> bool:
    """Evaluate a rule tree against any object carrying the event columns it names."""
    match expr:
        case Eq(left, right):
            a, b = _value(left, event, viewer), _value(right, event, viewer)
            return a is not None and b is not None and a == b
        case Ne(left, right):
            a, b = _value(left, event, viewer), _value(right, event, viewer)
            return a is not None and b is not None and a != b
        case In(item, collection):
            member = _value(item, event, viewer)
            values = getattr(viewer, collection.name)
            return member is not None and member in values
        case During(door, moment, periods):
            door_id, at = _value(door, event, viewer), _value(moment, event, viewer)
            if not isinstance(door_id, str) or not isinstance(at, datetime):
                return False
            held: frozenset[ResidentPeriod] = getattr(viewer, periods.name)
            return any(period.covers(door_id, at) for period in held)
        case And(terms):
            return all(evaluate(term, event, viewer) for term in terms)
        case Or(terms):
            return any(evaluate(term, event, viewer) for term in terms)
    raise TypeError(f"not a rule expression: {expr!r}")


def _value(operand: Operand, event: object, viewer: Viewer) -> object:
    match operand:
        case EventField(name):
            return getattr(event, name)
        case ViewerField(name):
            return getattr(viewer, name)
        case Const(value):
            return value
    raise TypeError(f"not an operand: {operand!r}")


def can_view_event(viewer: Viewer, event: EventFacts) -> bool:
    return evaluate(VISIBILITY_RULE, event, viewer)
