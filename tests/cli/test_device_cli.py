"""`keyturn device list` on a SQLite data dir: each door with its lock's health in the
property's time, doors without a lock shown as such, one property or all of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from factories import T0, make_door, make_property, provision_lock
from keyturn.cloud.models import Device
from keyturn.rules.types import DoorKind
from worlds import sync


@pytest.fixture
def lock_id(data_db: Session) -> str:
    """12 Elm St (New York time): a synced lock at the entrance, no lock at the package room;
    and 3 Oak Ave with one door and no lock."""
    prop = make_property(data_db, name="12 Elm St", time_zone="America/New_York")
    entrance = make_door(data_db, property_id=prop.id, name="Entrance", kind=DoorKind.ENTRANCE)
    make_door(data_db, property_id=prop.id, name="Package room", kind=DoorKind.COMMON)
    device_id = provision_lock(data_db, door_id=entrance.id).device_id
    other = make_property(data_db, portfolio_name="Oak Holdings", name="3 Oak Ave")
    make_door(data_db, property_id=other.id, name="Oak lobby", kind=DoorKind.ENTRANCE)
    data_db.commit()
    sync(data_db, device_id, T0)
    data_db.get_one(Device, device_id).battery_pct = 64
    data_db.commit()
    return device_id


def listing(run: Callable[..., str], *args: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(run("device", "list", "--json", *args))
    return listed


def test_json_lists_each_door_with_its_lock_and_doors_without_one(
    lock_id: str, run: Callable[..., str]
) -> None:
    (elm,) = listing(run, "--property", "12 Elm St")

    doors = {door["name"]: door for door in elm["doors"]}
    assert sorted(doors) == ["Entrance", "Package room"]
    assert doors["Package room"]["lock"] is None
    lock = doors["Entrance"]["lock"]
    assert lock["device_id"] == lock_id
    assert lock["model"] == "keyturn-r1"
    assert "camera" in lock["capabilities"]
    assert lock["battery_pct"] == 64
    assert lock["last_sync_at"] == T0.isoformat()
    assert lock["applied_access_list_version"] == lock["current_access_list_version"] >= 1
    assert (lock["versions_behind"], lock["log_gap_count"]) == (0, 0)


def test_without_property_every_property_is_listed(lock_id: str, run: Callable[..., str]) -> None:
    assert [prop["name"] for prop in listing(run)] == ["12 Elm St", "3 Oak Ave"]


def test_the_table_shows_local_time_staleness_and_the_unbound_door(
    lock_id: str, run: Callable[..., str]
) -> None:
    table = run("device", "list", "--property", "12 Elm St")

    assert "2026-03-02 04:00 EST" in table  # T0, 09:00 UTC
    assert "current" in table
    assert "64%" in table
    assert "no lock" in table
    assert "Oak lobby" not in table


def test_an_unknown_property_is_one_line(data_dir: object, fails: Callable[..., str]) -> None:
    assert "no property named 'Nowhere'" in fails("device", "list", "--property", "Nowhere")
