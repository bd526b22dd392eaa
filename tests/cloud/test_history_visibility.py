"""The SQL visibility filter returns exactly what the pure predicate allows (V1-V5).

Both are built from the rules core's one definition; this checks the compiled SQL against
the Python evaluation on random buildings, viewers and events, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.models import Grant, GrantKind, Key
from keyturn.cloud.history.models import Event
from keyturn.cloud.history.visibility import viewer_for, visible_events
from keyturn.cloud.people.models import Person, RoleMembership
from keyturn.cloud.properties.models import Door, Portfolio, Property, Unit
from keyturn.rules.types import DoorKind, Reason, Role
from keyturn.rules.visibility import EventFacts, Viewer, can_view_event

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
KINDS = (DoorKind.RESIDENCE, DoorKind.RESIDENCE, DoorKind.ENTRANCE, DoorKind.COMMON)


@dataclass
class Universe:
    property_ids: list[str]
    doors: list[Door]
    person_ids: list[str]


def _universe(session: Session) -> Universe:
    folio = Portfolio(name="P")
    session.add(folio)
    props, doors = [], []
    for p in range(2):
        prop = Property(
            portfolio=folio,
            name=f"B{p}",
            time_zone="America/New_York",
            authority_public_key=b"k" * 32,
            authority_private_key_sealed=b"s",
        )
        session.add(prop)
        props.append(prop)
        for d, kind in enumerate(KINDS):
            unit = Unit(property=prop, label=f"{d}") if kind == DoorKind.RESIDENCE else None
            doors.append(
                Door(property=prop, unit=unit, name=f"D{d}", kind=kind, secret_sealed=b"x")
            )
    people = [Person(display_name=f"person {i}") for i in range(5)]
    session.add_all(doors + people)
    session.flush()
    return Universe([p.id for p in props], doors, [p.id for p in people])


@pytest.fixture
def world(session: Session) -> Universe:
    """One building per test database; hypothesis reruns the test body many times on it."""
    return _universe(session)


events = st.lists(
    st.tuples(
        st.integers(0, 7),  # door index
        st.one_of(st.none(), st.integers(0, 4)),  # subject
        st.one_of(st.none(), st.integers(0, 4)),  # granted_by
        st.booleans(),  # by_resident
    ),
    max_size=25,
)
viewers = st.tuples(
    st.integers(0, 4),
    st.frozensets(st.integers(0, 7)),
    st.frozensets(st.integers(0, 1)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=events, viewer_spec=viewers)
def test_rule_v1_to_v5_sql_filter_equals_the_predicate(
    session: Session,
    world: Universe,
    rows: list[tuple[int, int | None, int | None, bool]],
    viewer_spec: tuple,
) -> None:
    person, resident_doors, managed = viewer_spec
    viewer = Viewer(
        person_id=world.person_ids[person],
        resident_door_ids=frozenset(world.doors[i].id for i in resident_doors),
        managed_property_ids=frozenset(world.property_ids[i] for i in managed),
    )
    stored = []
    for seq, (door_i, subject, granted_by, by_resident) in enumerate(rows):
        door = world.doors[door_i]
        stored.append(
            Event(
                property_id=door.property_id,
                door_id=door.id,
                door_kind=door.kind,
                device_seq=seq,
                occurred_at=T0 + timedelta(minutes=seq),
                subject_id=None if subject is None else world.person_ids[subject],
                granted_by=None if granted_by is None else world.person_ids[granted_by],
                by_resident=by_resident,
                reason=Reason.GRANTED,
            )
        )
    session.add_all(stored)
    session.flush()
    try:
        expected = {
            e.id
            for e in stored
            if can_view_event(
                viewer,
                EventFacts(
                    e.property_id, e.door_id, e.door_kind, e.subject_id, e.granted_by, e.by_resident
                ),
            )
        }
        got = set(session.scalars(visible_events(viewer).with_only_columns(Event.id)))
        assert got == expected
    finally:
        session.execute(delete(Event))
        session.flush()


def test_rule_v1_manager_never_sees_a_residents_own_entry_through_the_database(
    session: Session,
) -> None:
    world = _universe(session)
    residence = world.doors[0]
    resident, manager, guest = world.person_ids[:3]
    unit_key = Key(property_id=residence.property_id, name="unit", doors=[residence])
    session.add(unit_key)
    session.add_all(
        [
            Grant(
                person_id=resident,
                key=unit_key,
                kind=GrantKind.STANDARD,
                starts_at=T0,
                resident=True,
            ),
            RoleMembership(
                person_id=manager, property_id=residence.property_id, role=Role.PROPERTY_MANAGER
            ),
        ]
    )
    for seq, (subject, by_resident) in enumerate(((resident, True), (guest, False))):
        session.add(
            Event(
                property_id=residence.property_id,
                door_id=residence.id,
                door_kind=residence.kind,
                device_seq=seq,
                occurred_at=T0 + timedelta(hours=1),
                subject_id=subject,
                granted_by=resident if subject == guest else None,
                by_resident=by_resident,
                reason=Reason.GRANTED,
            )
        )
    session.flush()
    now = T0 + timedelta(days=1)

    def seen_by(person: str) -> set[str | None]:
        viewer = viewer_for(session, person, now)
        return set(session.scalars(visible_events(viewer).with_only_columns(Event.subject_id)))

    assert seen_by(manager) == {guest}  # V1, V4: only the non-resident's entry
    assert seen_by(resident) == {resident, guest}  # V2
    assert seen_by(guest) == {guest}  # V5


def test_viewer_for_reads_roles_and_active_resident_grants(session: Session) -> None:
    world = _universe(session)
    residence = world.doors[0]
    person, owner = world.person_ids[:2]
    key = Key(property_id=residence.property_id, name="unit", doors=[residence])
    session.add(key)
    session.add_all(
        [
            Grant(
                person_id=person,
                key=key,
                kind=GrantKind.STANDARD,
                starts_at=T0,
                ends_at=T0 + timedelta(days=30),
                resident=True,
            ),
            RoleMembership(
                person_id=owner, property_id=world.property_ids[0], role=Role.PORTFOLIO_MANAGER
            ),
        ]
    )
    session.flush()
    during = viewer_for(session, person, T0 + timedelta(days=1))
    after = viewer_for(session, person, T0 + timedelta(days=31))
    assert during.resident_door_ids == {residence.id}
    assert after.resident_door_ids == frozenset()
    # A portfolio manager manages every property of the portfolio.
    assert viewer_for(session, owner, T0).managed_property_ids == set(world.property_ids)
    assert session.scalars(select(Event)).all() == []
