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

from factories import (
    give_key,
    give_role,
    make_door,
    make_key,
    make_person,
    make_portfolio,
    make_property,
    make_unit,
    record_event,
    revoke_credential,
)
from keyturn.cloud.history.visibility import viewer_for, visible_events
from keyturn.cloud.models import (
    Door,
    Event,
    Key,
)
from keyturn.rules.types import DoorKind, Role
from keyturn.rules.visibility import EventFacts, ResidentPeriod, Viewer, can_view_event

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
KINDS = (DoorKind.RESIDENCE, DoorKind.RESIDENCE, DoorKind.ENTRANCE, DoorKind.COMMON)


@dataclass
class Universe:
    property_ids: list[str]
    doors: list[Door]
    person_ids: list[str]


def _universe(session: Session) -> Universe:
    folio = make_portfolio(session, name="P")
    props, doors = [], []
    for p in range(2):
        prop = make_property(session, portfolio_id=folio.id, name=f"B{p}")
        props.append(prop)
        for d, kind in enumerate(KINDS):
            unit_id = None
            if kind == DoorKind.RESIDENCE:
                unit_id = make_unit(session, property_id=prop.id, label=f"{d}").id
            doors.append(
                make_door(session, property_id=prop.id, name=f"D{d}", kind=kind, unit_id=unit_id)
            )
    people = [make_person(session, name=f"person {i}", account=False) for i in range(5)]
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
    stored = [
        record_event(
            session,
            door=world.doors[door_i],
            device_seq=seq,
            occurred_at=_at(minutes),
            subject_id=None if subject is None else world.person_ids[subject],
            granted_by=None if granted_by is None else world.person_ids[granted_by],
            by_resident=by_resident,
        )
        for seq, (door_i, subject, granted_by, by_resident, minutes) in enumerate(rows)
    ]
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
    unit_key = make_key(
        session, property_id=residence.property_id, name="unit", door_ids=[residence.id]
    )
    give_key(session, key=unit_key, person_id=resident, starts_at=T0, resident=True)
    give_role(
        session,
        person_id=manager,
        property_id=residence.property_id,
        role=Role.PROPERTY_MANAGER,
    )
    for seq, (subject, by_resident) in enumerate(((resident, True), (guest, False))):
        record_event(
            session,
            door=residence,
            device_seq=seq,
            occurred_at=T0 + timedelta(hours=1),
            subject_id=subject,
            granted_by=resident if subject == guest else None,
            by_resident=by_resident,
        )
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

    def key_to(name: str, *doors: Door) -> Key:
        return make_key(
            session,
            property_id=residence.property_id,
            name=name,
            door_ids=[door.id for door in doors],
        )

    key = key_to("unit", residence, entrance)
    renewed = key_to("unit, renewed", residence)
    other = key_to("other unit", other_residence)
    plain = key_to("plain", other_residence)

    def grant(
        on: Key,
        starts: datetime,
        *,
        ends_at: datetime | None = None,
        revoked_at: datetime | None = None,
        resident: bool,
    ) -> None:
        given = give_key(
            session, key=on, person_id=person, starts_at=starts, ends_at=ends_at, resident=resident
        )
        if revoked_at is not None:
            revoke_credential(
                session, property_id=residence.property_id, credential=given, now=revoked_at
            )

    day = timedelta(days=1)
    grant(key, T0, ends_at=T0 + 30 * day, resident=True)
    grant(renewed, T0 + 40 * day, ends_at=T0 + 90 * day, resident=True)
    # Revoked before its end: the period ends at the revocation.
    grant(other, T0 + 2 * day, ends_at=T0 + 60 * day, revoked_at=T0 + 5 * day, resident=True)
    # Revoked before it began: no period at all.
    grant(other, T0 + 4 * day, revoked_at=T0 + 3 * day, resident=True)
    # Not yet begun at the dates asked about below.
    grant(key, T0 + 400 * day, resident=True)
    grant(plain, T0, resident=False)
    give_role(
        session,
        person_id=owner,
        property_id=world.property_ids[0],
        role=Role.PORTFOLIO_MANAGER,
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
