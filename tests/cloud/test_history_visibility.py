"""The SQL visibility filter returns exactly what the pure predicate allows (V1-V5).

Both are built from the rules core's one definition; this checks the compiled SQL against
the Python evaluation on random buildings, viewers (with periods of resident status) and
events, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keyturn.cloud.history.visibility import viewer_for, visible_events
from keyturn.cloud.models import (
    Door,
    Event,
    Grant,
    GrantKind,
    Key,
    Person,
    Portfolio,
    Property,
    RoleMembership,
    Unit,
)
from keyturn.rules.types import DoorKind, Reason, Role
from keyturn.rules.visibility import EventFacts, ResidentPeriod, Viewer, can_view_event

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


# Minutes after T0: few enough that events often fall at a period's start or end.
MINUTES = st.integers(0, 4)
events = st.lists(
    st.tuples(
        st.integers(0, 7),  # door index
        st.one_of(st.none(), st.integers(0, 4)),  # subject
        st.one_of(st.none(), st.integers(0, 4)),  # granted_by
        st.booleans(),  # by_resident
        MINUTES,  # occurred at
    ),
    max_size=25,
)
viewers = st.tuples(
    st.integers(0, 4),
    # periods of resident status: door index (two residences and an entrance), start, minutes
    # held (None: still held), ending within the events' minutes
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.none() | st.integers(1, 2)),
        max_size=4,
    ),
    st.frozensets(st.integers(0, 1)),
)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=events, viewer_spec=viewers)
# A resident's entries at a period's start (shown) and at its end (not shown).
@example(rows=[(0, 1, None, True, 2), (0, 1, None, True, 4)], viewer_spec=(0, [(0, 2, 2)], set()))
def test_rule_v1_to_v5_sql_filter_equals_the_predicate(
    session: Session,
    world: Universe,
    rows: list[tuple[int, int | None, int | None, bool, int]],
    viewer_spec: tuple,
) -> None:
    person, periods, managed = viewer_spec
    viewer = Viewer(
        person_id=world.person_ids[person],
        resident_periods=frozenset(
            ResidentPeriod(
                world.doors[i].id, _at(start), None if held is None else _at(start + held)
            )
            for i, start, held in periods
        ),
        managed_property_ids=frozenset(world.property_ids[i] for i in managed),
    )
    stored = []
    for seq, (door_i, subject, granted_by, by_resident, minutes) in enumerate(rows):
        door = world.doors[door_i]
        stored.append(
            Event(
                property_id=door.property_id,
                door_id=door.id,
                door_kind=door.kind,
                device_seq=seq,
                occurred_at=_at(minutes),
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
                    e.property_id,
                    e.door_id,
                    e.door_kind,
                    e.subject_id,
                    e.granted_by,
                    e.by_resident,
                    e.occurred_at,
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


def test_rule_v2_viewer_for_reads_roles_and_periods_of_resident_status(session: Session) -> None:
    world = _universe(session)
    residence, other_residence, entrance = world.doors[0], world.doors[1], world.doors[2]
    person, owner = world.person_ids[:2]
    key = Key(property_id=residence.property_id, name="unit", doors=[residence, entrance])
    renewed = Key(property_id=residence.property_id, name="unit, renewed", doors=[residence])
    other = Key(property_id=residence.property_id, name="other unit", doors=[other_residence])
    plain = Key(property_id=residence.property_id, name="plain", doors=[other_residence])
    session.add_all([key, renewed, other, plain])

    def grant(on: Key, starts: datetime, **more: object) -> Grant:
        return Grant(person_id=person, key=on, kind=GrantKind.STANDARD, starts_at=starts, **more)

    day = timedelta(days=1)
    session.add_all(
        [
            grant(key, T0, ends_at=T0 + 30 * day, resident=True),
            grant(renewed, T0 + 40 * day, ends_at=T0 + 90 * day, resident=True),
            # Revoked before its end: the period ends at the revocation.
            grant(
                other, T0 + 2 * day, ends_at=T0 + 60 * day, revoked_at=T0 + 5 * day, resident=True
            ),
            # Revoked before it began: no period at all.
            grant(other, T0 + 4 * day, revoked_at=T0 + 3 * day, resident=True),
            # Not yet begun at the dates asked about below.
            grant(key, T0 + 400 * day, resident=True),
            grant(plain, T0, resident=False),
            RoleMembership(
                person_id=owner, property_id=world.property_ids[0], role=Role.PORTFOLIO_MANAGER
            ),
        ]
    )
    session.flush()
    home = ResidentPeriod(residence.id, T0, T0 + 30 * day)
    then = ResidentPeriod(other_residence.id, T0 + 2 * day, T0 + 5 * day)
    renewal = ResidentPeriod(residence.id, T0 + 40 * day, T0 + 90 * day)

    def periods(at: datetime) -> frozenset[ResidentPeriod]:
        return viewer_for(session, person, at).resident_periods

    assert periods(T0 - day) == frozenset()
    assert periods(T0 + day) == {home}
    assert periods(T0 + 3 * day) == {home, then}
    # Moved out of the other unit, and between leases at home: no period counts.
    assert periods(T0 + 35 * day) == frozenset()
    # Back home: the earlier lease's period counts again, the other unit's does not.
    assert periods(T0 + 41 * day) == {home, renewal}
    assert periods(T0 + 91 * day) == frozenset()
    # A portfolio manager manages every property of the portfolio.
    assert viewer_for(session, owner, T0).managed_property_ids == set(world.property_ids)
    assert session.scalars(select(Event)).all() == []
