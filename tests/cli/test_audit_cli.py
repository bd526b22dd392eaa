"""`keyturn audit list` on a SQLite data dir: the property's entries newest first, in words and
in the property's time, filtered by actor address and action; the operator's reads are
recorded like anyone's. Refusals run as real processes, for their one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from factories import T0, give_key, make_door, make_key, make_member, make_property, make_unit
from keyturn.rules.types import DoorKind, Role


@dataclass
class Building:
    property_id: str
    manager_id: str


@pytest.fixture
def building(data_db: Session) -> Building:
    """12 Elm St (New York time) where a manager gave a resident resident status at T0."""
    prop = make_property(data_db, name="12 Elm St", time_zone="America/New_York")
    unit = make_unit(data_db, property_id=prop.id, label="1A")
    door = make_door(
        data_db, property_id=prop.id, name="1A door", kind=DoorKind.RESIDENCE, unit_id=unit.id
    )
    key = make_key(data_db, property_id=prop.id, name="Unit 1A", door_ids=[door.id])
    manager = make_member(
        data_db,
        email="Morgan@Example.org",
        name="Morgan Reyes",
        property_id=prop.id,
        role=Role.PROPERTY_MANAGER,
    )
    resident = make_member(
        data_db,
        email="ada@example.org",
        name="Ada Park",
        property_id=prop.id,
        role=Role.RESIDENT,
        unit_id=unit.id,
    )
    give_key(data_db, key=key, person_id=resident.id, starts_at=T0, resident=True, by=manager.id)
    data_db.commit()
    return Building(prop.id, manager.id)


def entries(run: Callable[..., str], *args: str) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = json.loads(
        run("audit", "list", "--property", "12 Elm St", "--json", *args)
    )
    return listed


def test_lists_newest_first_with_names_and_records_the_operators_read(
    building: Building, run: Callable[..., str]
) -> None:
    run("retention", "set", "--property", building.property_id, "--days", "365")

    first = entries(run)
    second = entries(run)

    assert [entry["action"] for entry in first] == ["retention.override", "grant.resident_status"]
    grant = first[1]
    assert grant["actor"] == {
        "kind": "person",
        "person_id": building.manager_id,
        "name": "Morgan Reyes",
        "email": "morgan@example.org",
    }
    assert grant["subject"]["name"] == "Unit 1A for Ada Park"  # type: ignore[index]
    assert first[0]["actor"]["name"] == "operator (CLI)"  # type: ignore[index]
    assert second[0]["action"] == "audit.read"
    assert second[0]["actor"]["kind"] == "operator"  # type: ignore[index]
    assert second[1:] == first


def test_the_table_shows_the_propertys_local_time_and_the_action_in_words(
    building: Building, run: Callable[..., str]
) -> None:
    table = run("audit", "list", "--property", "12 Elm St")

    assert "2026-03-02 04:00 EST" in table  # T0, 09:00 UTC
    assert "gave resident status" in table
    assert "Morgan Reyes <morgan@example.org>" in table
    assert "Unit 1A for Ada Park" in table
    assert '"doors": ["1A door"]' in table
    assert "person_id" not in table


def test_filters_by_actor_address_action_and_since(
    building: Building, run: Callable[..., str]
) -> None:
    run("retention", "set", "--property", "12 Elm St", "--days", "365")

    by_manager = entries(run, "--actor", "MORGAN@example.org")
    overrides = entries(run, "--action", "retention")
    later = entries(run, "--since", "2026-03-02T09:00:01Z", "--action", "grant")

    assert [entry["action"] for entry in by_manager] == ["grant.resident_status"]
    assert [entry["action"] for entry in overrides] == ["retention.override"]
    assert later == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--actor", "nobody@example.org"), "nobody has the address"),
        (("--since", "2026-03-02"), "--since"),
        (("--action", "Drop Table"), "action code"),
    ],
)
def test_bad_filters_are_one_line(
    building: Building, fails: Callable[..., str], args: tuple[str, ...], needle: str
) -> None:
    assert needle in fails("audit", "list", "--property", "12 Elm St", *args)
