"""My history in the app: entries at my door named as the rules let me see them (V2), never
another unit's (V1), photos only at my door (P4), log gaps at my door as rows (R4), paging,
and the page read audited like the JSON list (V6)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import T0, provision_lock, record_event
from keyturn.cloud.models import AuditRecord, LogGap, Person, Property
from keyturn.cloud.people.profiles import profile_in
from keyturn.rules.types import CredentialType, Reason
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import HistoryWorld, add_event, add_photo, make_history_world


@pytest.fixture
def world(db: Session, tmp_path: Path) -> HistoryWorld:
    built = make_history_world(db)
    guest = db.get_one(Person, built.people["guest"])
    portfolio = db.get_one(Property, built.property_id).portfolio_id
    profile_in(db, person=guest, portfolio_id=portfolio).display_name = "Cousin Ana"
    resident = db.get_one(Person, built.people["resident"])
    profile_in(db, person=resident, portfolio_id=portfolio).display_name = "Ada Park"
    add_event(db, built, "resident_home", "1A", "resident", by_resident=True, minutes=1)
    add_event(db, built, "neighbour_home", "2B", "neighbour", by_resident=True, minutes=3)
    guest_entry = add_event(
        db,
        built,
        "guest_at_1A",
        "1A",
        "guest",
        granted_by="resident",
        minutes=4,
        credential=CredentialType.SINGLE_DAY_CODE,
    )
    add_photo(db, tmp_path, guest_entry)
    add_event(db, built, "staff_at_1A", "1A", "staff", minutes=5)
    wrong_2b = add_event(
        db,
        built,
        "wrong_code_at_2B",
        "2B",
        None,
        minutes=6,
        credential=CredentialType.PERSONAL_DOORCODE,
        reason=Reason.UNKNOWN_CREDENTIAL,
    )
    add_photo(db, tmp_path, wrong_2b)
    add_event(db, built, "manager_at_entrance", "entrance", "manager", minutes=7)
    add_event(db, built, "resident_at_entrance", "entrance", "resident", minutes=8)
    db.commit()
    return built


def _history(world: HistoryWorld) -> str:
    return f"/app/properties/{world.property_id}/history"


def test_v2_my_guest_is_named_and_staff_by_name_and_role(
    browsers: Portal, world: HistoryWorld
) -> None:
    page = browsers.as_person(world.people["resident"]).get(_history(world))
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Cousin Ana" in text
    assert "your guest" in text
    assert "· staff" in text
    assert_no_raw_ids(page.text)


def test_my_own_entries_carry_my_name_and_say_it_is_me(
    browsers: Portal, world: HistoryWorld
) -> None:
    page = browsers.as_person(world.people["resident"]).get(_history(world))
    mine = re.findall(r'<li class="entry[^"]*">(.*?)</li>', page.text, re.S)
    by_me = [visible_text(entry) for entry in mine if "Ada Park" in entry]
    assert len(by_me) == 2  # at home (1A) and at the entrance
    assert all(" you " in f" {text} " for text in by_me)
    others = [visible_text(entry) for entry in mine if "Ada Park" not in entry]
    assert others
    assert all(" you " not in f" {text} " for text in others)


def test_v1_p4_never_another_units_entries_or_photos(browsers: Portal, world: HistoryWorld) -> None:
    browser = browsers.as_person(world.people["resident"])
    page = browser.get(_history(world))
    text = visible_text(page.text)
    assert "neighbour" not in text
    assert "2B" not in text
    assert "manager" not in text  # the manager's entrance entry is not mine to see
    wrong = world.events["wrong_code_at_2B"].id
    assert wrong not in page.text
    photo = browser.get(f"{_history(world)}/photos/{wrong}")
    assert photo.status_code == 404
    # the neighbour sees none of mine
    theirs = browsers.as_person(world.people["neighbour"]).get(_history(world))
    assert "Cousin Ana" not in visible_text(theirs.text)


def test_p4_the_photo_at_my_door_is_served_and_audited(
    browsers: Portal, db: Session, world: HistoryWorld
) -> None:
    browser = browsers.as_person(world.people["resident"])
    event_id = world.events["guest_at_1A"].id
    page = browser.get(_history(world))
    assert f"/history/photos/{event_id}" in page.text
    photo = browser.get(f"{_history(world)}/photos/{event_id}")
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    db.expire_all()
    reads = db.scalars(select(AuditRecord).where(AuditRecord.action == "photo.read")).all()
    assert [r.actor_person_id for r in reads] == [world.people["resident"]]


def test_v6_the_page_read_is_audited_like_the_json_route(
    browsers: Portal, db: Session, world: HistoryWorld
) -> None:
    browsers.as_person(world.people["resident"]).get(_history(world))
    db.expire_all()
    [entry] = db.scalars(select(AuditRecord).where(AuditRecord.action == "history.read")).all()
    assert entry.actor_person_id == world.people["resident"]
    assert entry.property_id == world.property_id
    assert entry.object_type == "events"
    assert entry.detail["as_manager"] is False
    assert entry.detail["count"] == 4  # own at 1A and entrance, the guest's, the staff's


def test_r4_a_log_gap_at_my_door_is_a_row(
    browsers: Portal, db: Session, world: HistoryWorld
) -> None:
    door = world.doors["1A"]
    device_id = provision_lock(db, door_id=door.id).device_id
    for seq, minutes in ((1, 20), (5, 40)):
        record_event(
            db,
            door=door,
            occurred_at=T0 - timedelta(hours=2) + timedelta(minutes=minutes),
            subject_id=world.people["resident"],
            by_resident=True,
            device_id=device_id,
            device_seq=seq,
        )
    db.add(LogGap(device_id=device_id, door_id=door.id, from_seq=2, to_seq=4))
    other = provision_lock(db, door_id=world.doors["2B"].id).device_id
    db.add(LogGap(device_id=other, door_id=world.doors["2B"].id, from_seq=2, to_seq=3))
    db.commit()
    text = visible_text(browsers.as_person(world.people["resident"]).get(_history(world)).text)
    # both ends are the times of the entries the lock kept on either side of the loss, in
    # the property's zone; the other unit's gap is not shown
    assert text.count("This lock lost") == 1
    zone = ZoneInfo(db.get_one(Property, world.property_id).time_zone)
    start, end = (T0 - timedelta(hours=2) + timedelta(minutes=m) for m in (20, 40))
    between = f"between {start.astimezone(zone):%H:%M} and {end.astimezone(zone):%H:%M}"
    assert between in " ".join(text.split())


def test_older_entries_page_on(browsers: Portal, db: Session, world: HistoryWorld) -> None:
    for n in range(35):
        add_event(db, world, f"extra{n}", "1A", "resident", by_resident=True, minutes=-60 - n)
    db.commit()
    browser = browsers.as_person(world.people["resident"])
    first = browser.get(_history(world))
    assert "Older entries" in first.text
    start = first.text.index(f"{_history(world)}?cursor=")
    url = first.text[start : first.text.index('"', start)].replace("&amp;", "&")
    second = browser.get(url)
    assert second.status_code == 200
    assert "Back to the newest entries" in second.text
    assert "Older entries" not in second.text


def test_a_guest_without_history_read_elsewhere_gets_no_page(
    browsers: Portal, world: HistoryWorld
) -> None:
    answer = browsers.as_person(world.people["outsider"]).get(_history(world))
    assert answer.status_code in (403, 404)
