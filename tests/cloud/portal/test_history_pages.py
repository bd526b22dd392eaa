"""The history page: the API's /events query with names (V1-V5), photos by P4, log gaps,
filters, paging, the same audit record as the API (V6) and its live first page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import T0, bearer, provision_lock, record_event
from keyturn.cloud.models import AuditRecord, LogGap
from keyturn.rules.types import CredentialType, Reason
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import HistoryWorld, add_event, add_photo, all_pages, make_history_world, tokens


@pytest.fixture
def world(db: Session, tmp_path: Path) -> HistoryWorld:
    """12 Elm St with an entry of each kind the V and P rules tell apart, photos at 1A and
    the entrance, and an entrance lock that lost entries between two it kept."""
    built = make_history_world(db)
    add_event(db, built, "resident_home", "1A", "resident", by_resident=True, minutes=1)
    add_event(db, built, "coresident_home", "1A", "coresident", by_resident=True, minutes=2)
    add_event(db, built, "neighbour_home", "2B", "neighbour", by_resident=True, minutes=3)
    guest = add_event(
        db,
        built,
        "guest_at_1A",
        "1A",
        "guest",
        granted_by="resident",
        minutes=4,
        credential=CredentialType.SINGLE_DAY_CODE,
    )
    add_photo(db, tmp_path, guest)
    add_event(db, built, "staff_at_1A", "1A", "staff", minutes=5)
    add_event(db, built, "staff_at_gym", "gym", "staff", minutes=6)
    visitor = add_event(
        db, built, "guest_at_entrance", "entrance", "guest", granted_by="resident", minutes=9
    )
    add_photo(db, tmp_path, visitor)
    add_event(
        db,
        built,
        "wrong_code_at_1A",
        "1A",
        None,
        minutes=10,
        credential=CredentialType.PERSONAL_DOORCODE,
        reason=Reason.UNKNOWN_CREDENTIAL,
    )
    add_event(db, built, "resident_at_oak", "oak", "resident", minutes=11)
    lock = provision_lock(db, door_id=built.doors["entrance"].id)
    for seq, minutes, who in ((1, 7, "manager"), (2, 8, "resident"), (6, 20, "manager")):
        built.events[f"lock_{seq}"] = record_event(
            db,
            door=built.doors["entrance"],
            occurred_at=T0 - timedelta(hours=1) + timedelta(minutes=minutes),
            subject_id=built.people[who],
            device_id=lock.device_id,
            device_seq=seq,
        )
    db.add(
        LogGap(
            device_id=lock.device_id,
            door_id=built.doors["entrance"].id,
            from_seq=3,
            to_seq=5,
            detected_at=T0,
        )
    )
    db.commit()
    return built


def _url(world: HistoryWorld, below: str = "") -> str:
    return f"/portal/properties/{world.property_id}/history{below}"


ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r"<td>(.*?)</td>", re.S)


def _rows(html: str) -> list[tuple[str, str]]:
    """(door, who) of each listed entry."""
    rows = []
    for row in ROW.findall(html):
        cells = [" ".join(visible_text(cell).split()) for cell in CELL.findall(row)]
        if cells:
            rows.append((cells[1], cells[2]))
    return rows


def _api_rows(
    client: TestClient, world: HistoryWorld, token: str, **params: Any
) -> list[tuple[str, str]]:
    """(door, who) of what /events gives the same person, named as the page names them."""
    doors = {door.id: door.name for door in world.doors.values()}
    people = {person_id: name for name, person_id in world.people.items()}
    return [
        (doors[item["door_id"]], people.get(item["subject_id"], "someone"))
        for item in all_pages(client, token, world.property_id, **params)
    ]


@pytest.mark.parametrize("persona", ["manager", "security", "resident", "staff", "guest"])
def test_the_page_lists_what_the_api_gives_the_same_person_with_names(
    portal: Portal, client: TestClient, db: Session, world: HistoryWorld, persona: str
) -> None:
    token = tokens(db, world)[persona]
    page = portal.as_person(world.people[persona]).get(_url(world))
    assert page.status_code == 200
    assert _rows(page.text) == _api_rows(client, world, token)
    assert_no_raw_ids(page.text)


def test_a_plain_manager_sees_no_residents_own_entries_nor_residence_photos(
    portal: Portal, world: HistoryWorld
) -> None:
    page = portal.as_person(world.people["manager"]).get(_url(world))
    rows = _rows(page.text)
    for resident in ("resident", "coresident", "neighbour"):
        assert ("1A", resident) not in rows
        assert ("2B", resident) not in rows
    assert ("1A", "guest") in rows  # a visitor at a residence door (V4)
    assert "View photo" not in page.text  # P4: photos are the security viewer's
    for name in ("guest_at_1A", "guest_at_entrance"):
        photo = portal.as_person(world.people["manager"]).get(
            _url(world, f"/photos/{world.events[name].id}")
        )
        assert photo.status_code == 404


def test_a_security_viewer_sees_the_photo_links_and_opens_them_audited(
    portal: Portal, db: Session, world: HistoryWorld
) -> None:
    browser = portal.as_person(world.people["security"])
    page = browser.get(_url(world))
    for name in ("guest_at_1A", "guest_at_entrance"):
        link = _url(world, f"/photos/{world.events[name].id}")
        assert f'href="{link}"' in page.text
        photo = browser.get(link)
        assert photo.status_code == 200
        assert photo.headers["content-type"] == "image/jpeg"
        assert photo.content.startswith(b"\xff\xd8")
    reads = db.scalars(select(AuditRecord).where(AuditRecord.action == "photo.read")).all()
    assert len(reads) == 2


def test_a_photo_of_another_property_is_not_found_through_this_one(
    portal: Portal, db: Session, world: HistoryWorld, tmp_path: Path
) -> None:
    elsewhere = add_event(db, world, "oak_photo", "oak", "guest", minutes=12)
    add_photo(db, tmp_path, elsewhere)
    db.commit()
    browser = portal.as_person(world.people["security"])
    assert browser.get(_url(world, f"/photos/{elsewhere.id}")).status_code == 404


def test_the_lock_log_gap_is_shown_between_the_entries_it_kept(
    portal: Portal, world: HistoryWorld
) -> None:
    page = portal.as_person(world.people["manager"]).get(_url(world))
    text = " ".join(visible_text(page.text).split())
    # 08:08 and 08:20 UTC are 03:08 and 03:20 in New York, on the day of T0 there.
    assert "This lock lost entries between 03:08 and 03:20 (entrance)" in text
    later = portal.as_person(world.people["manager"]).get(_url(world), params={"to": "2026-02-28"})
    assert "lost entries" not in later.text


def test_filters_narrow_the_rows(portal: Portal, world: HistoryWorld) -> None:
    browser = portal.as_person(world.people["manager"])
    gym = _rows(browser.get(_url(world), params={"door": world.doors["gym"].id}).text)
    assert gym == [("gym", "staff")]
    denied = _rows(browser.get(_url(world), params={"outcome": "denied"}).text)
    assert denied == [("1A", "someone")]
    codes = _rows(browser.get(_url(world), params={"credential": "single_day_code"}).text)
    assert codes == [("1A", "guest")]
    staff = _rows(browser.get(_url(world), params={"person": world.people["staff"]}).text)
    assert staff == [("gym", "staff"), ("1A", "staff")]
    none = browser.get(_url(world), params={"from": "2026-03-03", "to": "2026-03-04"})
    assert _rows(none.text) == []
    assert "No entries match." in none.text
    that_day = browser.get(_url(world), params={"from": "2026-03-02", "to": "2026-03-02"})
    assert len(_rows(that_day.text)) == len(_rows(browser.get(_url(world)).text))
    doors_only = browser.get(_url(world), params={"kind": "forced_open"})
    assert _rows(doors_only.text) == []


def test_filtering_by_a_person_names_them_only_for_who_may_read_the_people_list(
    portal: Portal, world: HistoryWorld
) -> None:
    """A resident who sends someone else's id learns no name; a manager sees whom the rows
    are filtered by even when none is theirs."""
    neighbour = {"person": world.people["neighbour"]}
    resident = portal.as_person(world.people["resident"]).get(_url(world), params=neighbour)
    manager = portal.as_person(world.people["manager"]).get(_url(world), params=neighbour)

    assert _rows(resident.text) == []
    assert "neighbour" not in visible_text(resident.text)
    assert "neighbour" in visible_text(manager.text)
    assert "show everyone" in manager.text


def test_a_malformed_filter_is_answered_next_to_its_field(
    portal: Portal, world: HistoryWorld
) -> None:
    page = portal.as_person(world.people["manager"]).get(_url(world), params={"from": "March"})
    assert page.status_code == 422
    assert "Write the date as YYYY-MM-DD." in page.text


def _audit_records(db: Session, action: str) -> list[AuditRecord]:
    db.expire_all()
    return list(db.scalars(select(AuditRecord).where(AuditRecord.action == action)))


@pytest.mark.parametrize("persona", ["manager", "resident"])
def test_each_page_read_writes_the_audit_record_the_api_writes(
    portal: Portal, client: TestClient, db: Session, world: HistoryWorld, persona: str
) -> None:
    token = tokens(db, world)[persona]
    door = world.doors["entrance"].id
    portal.as_person(world.people[persona]).get(_url(world), params={"door": door})
    answer = client.get(
        f"/api/v1/properties/{world.property_id}/events",
        params={"door_id": door},
        headers=bearer(token),
    )
    assert answer.status_code == 200
    page_read, api_read = _audit_records(db, "history.read")
    for record in (page_read, api_read):
        assert record.actor_person_id == world.people[persona]
        assert record.property_id == world.property_id
    assert (page_read.object_type, page_read.detail) == (api_read.object_type, api_read.detail)


def test_the_export_link_is_the_apis_audited_export_of_the_same_filters(
    portal: Portal, db: Session, world: HistoryWorld
) -> None:
    browser = portal.as_person(world.people["manager"])
    page = browser.get(_url(world), params={"outcome": "denied"})
    [link] = re.findall(r'href="([^"]*export\.csv[^"]*)"', page.text)
    csv = browser.get(link.replace("&amp;", "&"))
    assert csv.status_code == 200
    lines = csv.text.strip().splitlines()
    assert len(lines) == 2
    assert "unknown_credential" in lines[1]
    assert len(_audit_records(db, "history.export")) == 1
    resident = portal.as_person(world.people["resident"]).get(_url(world))
    assert "Export CSV" not in resident.text


def test_older_entries_follow_the_cursor(portal: Portal, db: Session, world: HistoryWorld) -> None:
    for n in range(60):
        add_event(db, world, f"gym_{n}", "gym", "staff", minutes=-n - 1)
    db.commit()
    browser = portal.as_person(world.people["staff"])
    first = browser.get(_url(world))
    assert len(_rows(first.text)) == 50
    [older] = re.findall(r'href="([^"]*)">Older entries', first.text)
    second = browser.get(older.replace("&amp;", "&"))
    assert len(_rows(second.text)) == 62 - 50
    assert "Older entries" not in second.text
    assert "Newest entries" in second.text


def test_the_first_page_is_live_and_answers_304_until_something_changes(
    portal: Portal, db: Session, world: HistoryWorld
) -> None:
    browser = portal.as_person(world.people["manager"])
    page = browser.get(_url(world))
    assert f'data-live-url="{_url(world, "/live")}"' in page.text
    reads = len(_audit_records(db, "history.read"))
    fresh = browser.get(_url(world, "/live"))
    assert fresh.status_code == 200
    etag = fresh.headers["ETag"]
    assert _rows(fresh.text) == _rows(page.text)
    assert "<html" not in fresh.text
    same = browser.get(_url(world, "/live"), headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert len(_audit_records(db, "history.read")) == reads + 1  # a 304 reads nothing
    add_event(db, world, "new_at_gym", "gym", "staff", minutes=30)
    db.commit()
    changed = browser.get(_url(world, "/live"), headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert _rows(changed.text)[0] == ("gym", "staff")
    filtered = browser.get(_url(world, "/live"), params={"door": world.doors["1A"].id})
    assert filtered.headers["ETag"] != changed.headers["ETag"]


def test_someone_without_a_role_here_is_refused(portal: Portal, world: HistoryWorld) -> None:
    page = portal.as_person(world.people["outsider"]).get(_url(world))
    assert page.status_code in {403, 404}
    assert "Older entries" not in page.text
