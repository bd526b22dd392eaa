"""/events returns to each viewer exactly what the pure visibility predicate allows (V1-V5).

Hypothesis draws who holds which role and which periods of resident status at which doors
(grants that start, end and are revoked around the events), who invited whom, and a set of
events; every person then pages through /events over HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from factories import (
    T0,
    give_key,
    give_role,
    make_door,
    make_key,
    make_person,
    make_property,
    make_unit,
    record_event,
    revoke_credential,
    token_for,
)
from keyturn.cloud.models import (
    AuditRecord,
    Door,
    Event,
    Grant,
    Key,
    RoleMembership,
    RolePermission,
)
from keyturn.cloud.sessions import session_factory
from keyturn.rules.types import DoorKind, Permission, Reason, Role
from keyturn.rules.visibility import EventFacts, ResidentPeriod, Viewer, can_view_event
from worlds import all_pages

PEOPLE = 5
# Doors 0-3 are at the building under test; door 4 is at another property.
KINDS = (DoorKind.RESIDENCE, DoorKind.RESIDENCE, DoorKind.ENTRANCE, DoorKind.COMMON)
ROLES = (Role.PROPERTY_MANAGER, Role.STAFF, Role.RESIDENT, Role.GUEST, Role.PORTFOLIO_MANAGER)


@dataclass(frozen=True)
class DoorFacts:
    id: str
    property_id: str
    kind: DoorKind


@dataclass
class VisibilityBuilding:
    property_id: str
    doors: list[DoorFacts]
    units: list[str | None]
    keys: list[str | None]
    people: list[str]
    tokens: list[str]


@pytest.fixture
def building(engine: Engine) -> VisibilityBuilding:
    """Doors, units, one key per residence door, and people with tokens; no roles yet."""
    with session_factory(engine)() as session:
        prop = make_property(session, portfolio_name="Elm Holdings", name="12 Elm St")
        other = make_property(session, portfolio_name="Oak Holdings", name="3 Oak Ave")
        doors, units, keys = [], [], []
        for index, kind in enumerate((*KINDS, DoorKind.ENTRANCE)):
            where = prop if index < len(KINDS) else other
            residence = kind == DoorKind.RESIDENCE
            unit = (
                make_unit(session, property_id=where.id, label=f"U{index}") if residence else None
            )
            door = make_door(
                session,
                property_id=where.id,
                name=f"D{index}",
                kind=kind,
                unit_id=unit.id if unit else None,
            )
            key = None
            if residence:
                key = make_key(session, property_id=where.id, name=f"K{index}", door_ids=[door.id])
            doors.append(DoorFacts(door.id, door.property_id, door.kind))
            units.append(unit.id if unit else None)
            keys.append(key.id if key else None)
        people = [make_person(session, email=f"p{i}@example.org").id for i in range(PEOPLE)]
        tokens = [token_for(session, person) for person in people]
        building = VisibilityBuilding(prop.id, doors, units, keys, people, tokens)
        session.commit()
        return building


# A grant with resident status: residence door, start (minutes from T0, the app's now; the
# events happen before it), minutes until its end (None: open-ended), revoked a minute after
# its start (which may be after now: not yet revoked then).
ResidentGrant = tuple[int, int, int | None, bool]
resident_grants = st.lists(
    st.tuples(st.integers(0, 1), st.integers(-7, 0), st.none() | st.integers(1, 5), st.booleans()),
    max_size=2,
)
standings = st.lists(
    st.tuples(
        st.sampled_from(ROLES),
        st.booleans(),  # security viewer (for managers)
        resident_grants,
    ),
    min_size=PEOPLE,
    max_size=PEOPLE,
)
events = st.lists(
    st.tuples(
        st.integers(0, 4),  # door
        st.one_of(st.none(), st.integers(0, PEOPLE - 1)),  # subject
        st.one_of(st.none(), st.integers(0, PEOPLE - 1)),  # granted by
        st.booleans(),  # by resident
        st.booleans(),  # granted
    ),
    max_size=20,
)


def _arrange(
    session: Session,
    building: VisibilityBuilding,
    people: list[tuple[Role, bool, list[ResidentGrant]]],
    rows: list[tuple[int, int | None, int | None, bool, bool]],
) -> tuple[list[Viewer], list[Event]]:
    """Store the drawn roles, grants and events; return each person's expected Viewer."""
    viewers = []
    for index, (role, security, grants) in enumerate(people):
        person = building.people[index]
        first_home = min((door for door, *_ in grants), default=0)
        unit = building.units[first_home] if role == Role.RESIDENT else None
        permission = (
            Permission.SECURITY_VIEWER if security and role == Role.PROPERTY_MANAGER else None
        )
        give_role(
            session,
            person_id=person,
            property_id=building.property_id,
            role=role,
            unit_id=unit,
            permission=permission,
        )
        periods, homes = set(), set()
        for door, start, held, revoked in grants:
            starts_at = T0 + timedelta(minutes=start)
            ends_at = None if held is None else starts_at + timedelta(minutes=held)
            revoked_at = starts_at + timedelta(minutes=1) if revoked else None
            key_id = building.keys[door]
            assert key_id is not None
            grant = give_key(
                session,
                key=session.get_one(Key, key_id),
                person_id=person,
                starts_at=starts_at,
                ends_at=ends_at,
                resident=True,
            )
            if revoked_at is not None:
                revoke_credential(
                    session, property_id=building.property_id, credential=grant, now=revoked_at
                )
            until = min((t for t in (ends_at, revoked_at) if t is not None), default=None)
            periods.add(ResidentPeriod(building.doors[door].id, starts_at, until))
            if all(t is None or t > T0 for t in (ends_at, revoked_at)):
                homes.add(building.doors[door].id)
        manages = role in (Role.PROPERTY_MANAGER, Role.PORTFOLIO_MANAGER)
        viewers.append(
            Viewer(
                person_id=person,
                # Periods count only at doors where the person still holds resident status.
                resident_periods=frozenset(p for p in periods if p.door_id in homes),
                managed_property_ids=frozenset({building.property_id} if manages else ()),
            )
        )
    stored = []
    for seq, (door_index, subject, granter, by_resident, granted) in enumerate(rows):
        door = building.doors[door_index]
        stored.append(
            record_event(
                session,
                door=session.get_one(Door, door.id),
                occurred_at=T0 - timedelta(minutes=seq % 7),
                subject_id=None if subject is None else building.people[subject],
                granted_by=None if granter is None else building.people[granter],
                by_resident=by_resident,
                reason=Reason.GRANTED if granted else Reason.UNKNOWN_CREDENTIAL,
            )
        )
    session.commit()
    return viewers, stored


def _clear(session: Session) -> None:
    for table in (Event, Grant, RolePermission, RoleMembership, AuditRecord):
        session.execute(delete(table))
    session.commit()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=standings, rows=events, limit=st.integers(1, 8))
def test_rule_v1_to_v5_events_api_equals_the_predicate_for_every_viewer(
    engine: Engine,
    client: TestClient,
    building: VisibilityBuilding,
    people: list[tuple[Role, bool, list[ResidentGrant]]],
    rows: list[tuple[int, int | None, int | None, bool, bool]],
    limit: int,
) -> None:
    with session_factory(engine)() as session:
        try:
            viewers, stored = _arrange(session, building, people, rows)
            for viewer, token in zip(viewers, building.tokens, strict=True):
                expected = {
                    event.id
                    for event in stored
                    if event.property_id == building.property_id
                    and can_view_event(
                        viewer,
                        EventFacts(
                            event.property_id,
                            event.door_id,
                            event.door_kind,
                            event.subject_id,
                            event.granted_by,
                            event.by_resident,
                            event.occurred_at,
                        ),
                    )
                }
                items = all_pages(client, token, building.property_id, limit=limit)
                ids = [item["id"] for item in items]
                assert len(ids) == len(set(ids))
                assert set(ids) == expected
        finally:
            _clear(session)
