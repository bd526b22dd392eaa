"""Alerts derived from what the locks report, on their page and the overview, and the
overview's live region (ETag, 304)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factories import T0, Clock, provision_lock, record_event
from keyturn.cloud.alerts.service import AlertKind, open_alerts
from keyturn.cloud.models import Device, LogGap
from keyturn.protocol.event_kinds import EventKind
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import HistoryWorld, add_event, make_history_world


@pytest.fixture
def world(db: Session, tmp_path: Path) -> HistoryWorld:
    """12 Elm St with locks at the entrance (battery low, synced just now, forced open an
    hour ago) and the gym (healthy, synced a day ago: late)."""
    built = make_history_world(db)
    entrance = provision_lock(db, door_id=built.doors["entrance"].id)
    gym = provision_lock(db, door_id=built.doors["gym"].id)
    low = db.get_one(Device, entrance.device_id)
    low.battery_pct, low.last_sync_at = 15, T0
    late = db.get_one(Device, gym.device_id)
    late.battery_pct, late.last_sync_at = 90, T0 - timedelta(days=1)
    forced = record_event(
        db,
        door=built.doors["entrance"],
        occurred_at=T0 - timedelta(hours=1),
        device_id=entrance.device_id,
        device_seq=1,
    )
    forced.kind, forced.reason, forced.credential_type = EventKind.FORCED_OPEN, None, None
    old = record_event(
        db,
        door=built.doors["entrance"],
        occurred_at=T0 - timedelta(days=3),
        device_id=entrance.device_id,
        device_seq=2,
    )
    old.kind, old.reason, old.credential_type = EventKind.DOOR_AJAR, None, None
    add_event(db, built, "attempt", "gym", "staff", minutes=5)
    db.commit()
    return built


def test_open_alerts_are_derived_newest_first_with_door_names(
    db: Session, world: HistoryWorld
) -> None:
    alerts = open_alerts(session=db, property_id=world.property_id, now=T0)
    assert [(alert.kind, alert.door_name) for alert in alerts] == [
        (AlertKind.LOW_BATTERY, "entrance"),
        (AlertKind.FORCED_OPEN, "entrance"),
        (AlertKind.NOT_SYNCED, "gym"),
    ]
    assert alerts[0].battery_pct == 15
    fresh = open_alerts(
        session=db, property_id=world.property_id, now=T0, since=T0 - timedelta(hours=2)
    )
    assert {alert.kind for alert in fresh} == {AlertKind.LOW_BATTERY, AlertKind.FORCED_OPEN}


def test_the_alerts_page_lists_forced_open_and_low_battery_by_name(
    portal: Portal, world: HistoryWorld
) -> None:
    page = portal.as_person(world.people["manager"]).get(
        f"/portal/properties/{world.property_id}/alerts"
    )
    assert page.status_code == 200
    text = " ".join(visible_text(page.text).split())
    assert "Door forced open entrance 03:00" in text  # 08:00 UTC, in New York
    assert "Battery low entrance" in text
    assert "15% battery" in text
    assert "Lock not heard from gym last heard from 1 day ago" in text
    assert "Door held open" not in text  # three days ago: no longer open
    assert_no_raw_ids(page.text)


def test_a_log_gap_is_an_alert(db: Session, portal: Portal, world: HistoryWorld) -> None:
    device = db.query(Device).filter(Device.door_id == world.doors["gym"].id).one()
    db.add(
        LogGap(device_id=device.id, door_id=device.door_id, from_seq=3, to_seq=4, detected_at=T0)
    )
    db.commit()
    page = portal.as_person(world.people["manager"]).get(
        f"/portal/properties/{world.property_id}/alerts"
    )
    assert "Lock lost entries" in page.text


@pytest.mark.parametrize("persona", ["resident", "guest", "outsider"])
def test_who_may_not_read_lock_health_sees_no_alerts(
    portal: Portal, world: HistoryWorld, persona: str
) -> None:
    browser = portal.as_person(world.people[persona])
    assert browser.get(f"/portal/properties/{world.property_id}/alerts").status_code in {403, 404}
    overview = browser.get(f"/portal/properties/{world.property_id}")
    assert "Door forced open" not in overview.text
    assert "/alerts" not in overview.text


def test_the_overview_shows_the_open_alerts(portal: Portal, world: HistoryWorld) -> None:
    page = portal.as_person(world.people["manager"]).get(f"/portal/properties/{world.property_id}")
    text = " ".join(visible_text(page.text).split())
    assert "Alerts 3 open" in text
    assert "Door forced open · entrance" in text
    assert_no_raw_ids(page.text)


def test_the_overview_region_answers_304_until_a_lock_reports(
    db: Session, portal: Portal, world: HistoryWorld, clock: Clock
) -> None:
    browser = portal.as_person(world.people["manager"])
    page = browser.get(f"/portal/properties/{world.property_id}")
    live = f"/portal/properties/{world.property_id}/live/overview"
    assert f'data-live-url="{live}"' in page.text
    first = browser.get(live)
    assert first.status_code == 200
    assert "<html" not in first.text
    etag = first.headers["ETag"]
    assert browser.get(live, headers={"If-None-Match": etag}).status_code == 304
    assert browser.get(live, headers={"If-None-Match": '"other", ' + etag}).status_code == 304
    device = db.query(Device).filter(Device.door_id == world.doors["gym"].id).one()
    device.battery_pct, device.last_sync_at = 10, T0
    db.commit()
    changed = browser.get(live, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "10% low" in changed.text
    again = changed.headers["ETag"]
    assert browser.get(live, headers={"If-None-Match": again}).status_code == 304
    clock.now = T0 + timedelta(minutes=1)  # "ago" words age: a new minute is a new answer
    assert browser.get(live, headers={"If-None-Match": again}).status_code == 200


def test_the_alerts_region_answers_304_and_is_refused_to_residents(
    portal: Portal, world: HistoryWorld
) -> None:
    live = f"/portal/properties/{world.property_id}/alerts/live"
    first = portal.as_person(world.people["manager"]).get(live)
    assert first.status_code == 200
    assert "Door forced open" in first.text
    manager = portal.as_person(world.people["manager"])
    assert manager.get(live, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    resident = portal.as_person(world.people["resident"])
    assert resident.get(live).status_code in {403, 404}
