from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.rules.photos import PHOTO_RULE, PHOTO_RULE_FOR_DATA_REQUEST
from keyturn.rules.types import DoorKind
from keyturn.rules.visibility import (
    EVENT,
    VIEWER,
    VISIBILITY_RULE,
    And,
    Const,
    During,
    Eq,
    EventFacts,
    EventField,
    Expr,
    In,
    Ne,
    Operand,
    Or,
    ResidentPeriod,
    Viewer,
    ViewerField,
    can_view_event,
)

PROPERTY = "prop-1"
UNIT = "unit-1"
LOBBY = "lobby"
T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
MOVED_IN = T0 - timedelta(days=365)


def resident(person_id: str, *periods: tuple[str, datetime, datetime | None]) -> Viewer:
    return Viewer(person_id, resident_periods=frozenset(ResidentPeriod(*p) for p in periods))


RESIDENT = resident("resident-a", (UNIT, MOVED_IN, None), (LOBBY, MOVED_IN, None))
CO_RESIDENT = resident("resident-b", (UNIT, MOVED_IN, None))
NEIGHBOUR = resident("resident-c", ("unit-2", MOVED_IN, None), (LOBBY, MOVED_IN, None))
MANAGER = Viewer("manager", managed_property_ids=frozenset({PROPERTY}))
OTHER_MANAGER = Viewer("manager-2", managed_property_ids=frozenset({"prop-2"}))
STAFF = Viewer("staff")
GUEST = Viewer("guest")


def event(
    door_kind: DoorKind,
    subject_id: str | None,
    by_resident: bool,
    granted_by: str | None = None,
    door_id: str | None = None,
    at: datetime = T0,
) -> EventFacts:
    if door_id is None:
        door_id = UNIT if door_kind == DoorKind.RESIDENCE else LOBBY
    return EventFacts(PROPERTY, door_id, door_kind, subject_id, granted_by, by_resident, at)


def viewers_of(facts: EventFacts) -> set[str]:
    everyone = [RESIDENT, CO_RESIDENT, NEIGHBOUR, MANAGER, OTHER_MANAGER, STAFF, GUEST]
    return {v.person_id for v in everyone if can_view_event(v, facts)}


def test_rule_v1_residents_entries_at_their_door_are_private_to_its_residents() -> None:
    entry = event(DoorKind.RESIDENCE, "resident-b", by_resident=True, granted_by="manager")
    assert viewers_of(entry) == {"resident-a", "resident-b"}


def test_rule_v1_mechanical_key_at_a_residence_door_stays_with_its_residents() -> None:
    sensed = event(DoorKind.RESIDENCE, None, by_resident=True)
    assert viewers_of(sensed) == {"resident-a", "resident-b"}


def test_rule_v2_residents_see_every_entry_at_their_own_residence_door() -> None:
    for subject in ("guest", "manager", "staff", "resident-b", None):
        facts = event(DoorKind.RESIDENCE, subject, by_resident=subject == "resident-b")
        assert can_view_event(RESIDENT, facts)
        assert not can_view_event(NEIGHBOUR, facts)


def test_rule_v2_a_new_tenant_never_sees_the_previous_tenants_entries() -> None:
    moved_out = T0 - timedelta(days=2)
    previous = resident("tenant-old", (UNIT, MOVED_IN, moved_out))
    new = resident("tenant-new", (UNIT, moved_out, None))
    before = event(DoorKind.RESIDENCE, "tenant-old", by_resident=True, at=moved_out - timedelta(1))
    assert can_view_event(previous, before)
    assert not can_view_event(new, before)
    for subject in ("guest", "manager", "staff", "tenant-new", None):
        after = event(DoorKind.RESIDENCE, subject, by_resident=subject == "tenant-new")
        assert can_view_event(new, after)
        assert not can_view_event(previous, after)


def test_rule_v2_resident_status_given_later_opens_no_earlier_history() -> None:
    given = T0 + timedelta(hours=1)
    late = resident("manager", (UNIT, given, None))
    for at in (MOVED_IN, T0, given - timedelta(microseconds=1)):
        assert not can_view_event(late, event(DoorKind.RESIDENCE, "resident-b", True, at=at))
    assert can_view_event(late, event(DoorKind.RESIDENCE, "resident-b", True, at=given))


def test_rule_v2_a_period_counts_at_its_own_door_only() -> None:
    elsewhere = resident("resident-z", ("unit-2", MOVED_IN, None))
    assert not can_view_event(elsewhere, event(DoorKind.RESIDENCE, "guest", False))


def test_rule_v2_resident_status_at_a_shared_door_shows_only_ones_own_entries() -> None:
    other = event(DoorKind.ENTRANCE, "resident-c", by_resident=True)
    assert not can_view_event(RESIDENT, other)
    assert can_view_event(NEIGHBOUR, other)


def test_rule_v3_manager_and_staff_entries_are_visible_to_managers_at_every_door() -> None:
    for door_kind in DoorKind:
        for subject in ("manager", "staff"):
            facts = event(door_kind, subject, by_resident=False)
            assert can_view_event(MANAGER, facts)
            assert not can_view_event(OTHER_MANAGER, facts)


def test_rule_v4_managers_see_everything_at_shared_doors() -> None:
    for door_kind in (DoorKind.ENTRANCE, DoorKind.COMMON, DoorKind.SERVICE):
        for subject, resident in (("resident-a", True), ("guest", False), (None, False)):
            assert can_view_event(MANAGER, event(door_kind, subject, resident))
            assert not can_view_event(STAFF, event(door_kind, subject, resident))


def test_rule_v4_managers_see_non_residents_at_a_residence_door_but_never_residents() -> None:
    assert can_view_event(MANAGER, event(DoorKind.RESIDENCE, "guest", by_resident=False))
    # A failed attempt by someone unknown is shown for building security.
    assert can_view_event(MANAGER, event(DoorKind.RESIDENCE, None, by_resident=False))
    assert not can_view_event(MANAGER, event(DoorKind.RESIDENCE, "resident-a", by_resident=True))


def test_rule_v5_everyone_sees_their_own_entries_everywhere() -> None:
    for door_kind in DoorKind:
        door_id = "unit-9" if door_kind == DoorKind.RESIDENCE else "gym"
        assert can_view_event(GUEST, event(door_kind, "guest", False, door_id=door_id))
        assert not can_view_event(GUEST, event(door_kind, "staff", False, door_id=door_id))


def test_rule_v5_grantor_sees_entries_made_with_their_grant() -> None:
    guest_entry = event(DoorKind.COMMON, "guest", by_resident=False, granted_by="resident-c")
    assert can_view_event(NEIGHBOUR, guest_entry)
    walker = event(DoorKind.RESIDENCE, "walker", False, granted_by="resident-c", door_id="unit-2")
    assert can_view_event(NEIGHBOUR, walker)
    assert not can_view_event(STAFF, walker)


def test_rule_v5_grantor_never_sees_residents_own_residence_entries() -> None:
    # A manager who issued a resident's key still may not follow them home (V1).
    entry = event(DoorKind.RESIDENCE, "resident-a", by_resident=True, granted_by="staff")
    assert not can_view_event(STAFF, entry)


def naive_can_view(viewer: Viewer, e: EventFacts) -> bool:
    """The V rules written out by hand, independently of the expression tree."""
    if e.subject_id is not None and e.subject_id == viewer.person_id:
        return True
    if e.door_kind == DoorKind.RESIDENCE and any(
        p.door_id == e.door_id
        and p.starts_at <= e.occurred_at
        and (p.ends_at is None or e.occurred_at < p.ends_at)
        for p in viewer.resident_periods
    ):
        return True
    if e.door_kind == DoorKind.RESIDENCE and e.by_resident:
        return False
    if e.granted_by is not None and e.granted_by == viewer.person_id:
        return True
    return e.property_id in viewer.managed_property_ids


people = st.sampled_from(["p1", "p2", "p3"])
doors = st.sampled_from(["d1", "d2", "d3"])
properties = st.sampled_from(["prop-1", "prop-2"])
# A few distinct instants, so that events fall before, at, inside and after periods.
moments = st.integers(0, 4).map(lambda minutes: T0 + timedelta(minutes=minutes))
facts = st.builds(
    EventFacts,
    property_id=properties,
    door_id=doors,
    door_kind=st.sampled_from(list(DoorKind)),
    subject_id=st.none() | people,
    granted_by=st.none() | people,
    by_resident=st.booleans(),
    occurred_at=moments,
)
periods = st.builds(ResidentPeriod, door_id=doors, starts_at=moments, ends_at=st.none() | moments)
viewers = st.builds(
    Viewer,
    person_id=people,
    resident_periods=st.frozensets(periods, max_size=4),
    managed_property_ids=st.frozensets(properties),
    security_viewer_property_ids=st.frozensets(properties),
)


@settings(deadline=None, max_examples=1000)
@given(viewer=viewers, facts=facts)
def test_visibility_rule_matches_a_naive_predicate(viewer: Viewer, facts: EventFacts) -> None:
    assert can_view_event(viewer, facts) == naive_can_view(viewer, facts)


def walk(expr: Expr) -> list[Operand]:
    match expr:
        case Eq(left, right) | Ne(left, right):
            return [left, right]
        case In(item, collection):
            return [item, collection]
        case During(door, moment, held):
            return [door, moment, held]
        case And(terms) | Or(terms):
            return [operand for term in terms for operand in walk(term)]
    raise AssertionError(expr)


def test_rules_name_only_real_event_columns_and_viewer_attributes() -> None:
    event_columns = {f.name for f in dataclasses.fields(EventFacts)}
    viewer_attributes = {f.name for f in dataclasses.fields(Viewer)}
    assert {f.name for f in dataclasses.fields(EVENT)} == event_columns
    assert all(getattr(EVENT, name).name == name for name in event_columns)
    assert all(getattr(VIEWER, name).name == name for name in viewer_attributes)
    for rule in (VISIBILITY_RULE, PHOTO_RULE, PHOTO_RULE_FOR_DATA_REQUEST):
        for operand in walk(rule):
            if isinstance(operand, EventField):
                assert operand.name in event_columns
            elif isinstance(operand, ViewerField):
                assert operand.name in viewer_attributes
            else:
                assert isinstance(operand, Const)


def to_sql(expr: Expr, viewer: Viewer, params: list[object]) -> str:
    """A minimal compiler, as the cloud's SQLAlchemy one walks the same tree."""

    def operand(node: Operand) -> str:
        match node:
            case EventField(name):
                return name
            case ViewerField(name):
                params.append(getattr(viewer, name))
                return "?"
            case Const(value):
                params.append(value)
                return "?"
        raise AssertionError(node)

    match expr:
        case Eq(left, right):
            return f"({operand(left)} = {operand(right)})"
        case Ne(left, right):
            return f"({operand(left)} <> {operand(right)})"
        case In(item, collection):
            values = sorted(getattr(viewer, collection.name))
            if not values:
                return "(0)"
            sql = operand(item)
            params.extend(values)
            return f"({sql} IN ({', '.join('?' * len(values))}))"
        case During(EventField(door), EventField(moment), ViewerField(held)):
            within = []
            for period in getattr(viewer, held):
                params.extend([period.door_id, period.starts_at.isoformat()])
                until = ""
                if period.ends_at is not None:
                    params.append(period.ends_at.isoformat())
                    until = f" AND {moment} < ?"
                within.append(f"({door} = ? AND {moment} >= ?{until})")
            return "(" + (" OR ".join(within) or "0") + ")"
        case And(terms):
            return "(" + " AND ".join(to_sql(t, viewer, params) for t in terms) + ")"
        case Or(terms):
            return "(" + " OR ".join(to_sql(t, viewer, params) for t in terms) + ")"
    raise AssertionError(expr)


@settings(deadline=None, max_examples=300)
@given(viewer=viewers, found=st.lists(facts, max_size=8))
def test_visibility_rule_compiled_to_sql_selects_the_same_events(
    viewer: Viewer, found: list[EventFacts]
) -> None:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE events (id INTEGER, property_id TEXT, door_id TEXT, door_kind TEXT,"
        " subject_id TEXT, granted_by TEXT, by_resident BOOLEAN, occurred_at TEXT)"
    )
    db.executemany(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                f.property_id,
                f.door_id,
                f.door_kind.value,
                f.subject_id,
                f.granted_by,
                f.by_resident,
                f.occurred_at.isoformat(),
            )
            for i, f in enumerate(found)
        ],
    )
    params: list[object] = []
    where = to_sql(VISIBILITY_RULE, viewer, params)
    selected = {row[0] for row in db.execute(f"SELECT id FROM events WHERE {where}", params)}
    db.close()
    assert selected == {i for i, f in enumerate(found) if can_view_event(viewer, f)}
