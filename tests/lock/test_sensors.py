from __future__ import annotations

import pytest

from keyturn.lock.sensors import battery_event
from lock.harness import Harness

CODE = "4815162"


def _kinds(harness: Harness) -> list[str]:
    return [record.kind for record in harness.lock.journal.entries()]


def test_door_opened_without_a_grant_is_forced_open(harness: Harness) -> None:
    record = harness.lock.door_opened()
    assert record is not None
    assert record.kind == "forced_open"


def test_door_opened_after_a_grant_is_normal(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    assert harness.lock.enter_code(CODE).granted
    harness.clock.advance(5)
    assert harness.lock.door_opened() is None
    harness.lock.door_closed()
    harness.clock.advance(1)
    assert harness.lock.door_opened() is not None  # the latch re-engaged on closing


def test_door_opened_after_the_latch_re_engaged_is_forced(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    harness.lock.enter_code(CODE)
    harness.clock.advance(11)
    record = harness.lock.door_opened()
    assert record is not None
    assert record.kind == "forced_open"


def test_denied_attempt_does_not_unlatch(harness: Harness) -> None:
    harness.lock.enter_code("1000003")
    record = harness.lock.door_opened()
    assert record is not None
    assert record.kind == "forced_open"


def test_door_left_open_30_seconds_is_ajar_once(harness: Harness) -> None:
    harness.lock.turn_mechanical_key()
    harness.lock.door_opened()
    harness.clock.advance(29.999)
    assert harness.lock.tick() == []
    harness.clock.advance(0.001)
    (record,) = harness.lock.tick()
    assert record.kind == "door_ajar"
    harness.clock.advance(60)
    assert harness.lock.tick() == []
    assert _kinds(harness) == ["attempt", "door_ajar"]


def test_battery_low_below_fifteen_percent_once_per_crossing(harness: Harness) -> None:
    assert harness.lock.report_battery(15) is None
    record = harness.lock.report_battery(14)
    assert record is not None
    assert record.kind == "battery_low"
    assert record.detail == "14%"
    assert harness.lock.report_battery(10) is None
    harness.lock.report_battery(80)
    assert harness.lock.report_battery(5) is not None
    assert harness.reopen().battery_pct == 5
    assert harness.lock.device_status().battery_pct == 5


def test_battery_level_must_be_a_percentage() -> None:
    with pytest.raises(ValueError, match="0-100"):
        battery_event(50, 101)
