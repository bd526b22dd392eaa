"""The keys pages: the list in words, the key form behind keys.manage, giving and revoking a key
with the locks' progress, and a specific-keys manager kept to their key."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import make_key, make_member
from keyturn.cloud.access.rollout import LockStatus
from keyturn.cloud.models import Grant, Key
from keyturn.cloud.web.formatting import EN_DASH, WEEKDAYS, rollout_words, schedule_words
from keyturn.rules.types import Role
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site, sync

D = EN_DASH


def _keys(site: Site) -> str:
    return f"/portal/properties/{site.property_id}/keys"


def _text(html: str) -> str:
    return " ".join(visible_text(html).split())


def _schedule_key(db: Session, site: Site) -> Key:
    key = make_key(
        db,
        property_id=site.property_id,
        name="Cleaners",
        door_ids=[site.entrance_id, site.package_room_id],
        windows=tuple(
            {"weekday": weekday, "start": "08:00", "end": "18:00"} for weekday in range(5)
        ),
    )
    db.commit()
    return key


def test_the_list_shows_doors_and_schedules_in_words_without_ids(
    portal: Portal, db: Session, site: Site
) -> None:
    _schedule_key(db, site)
    page = portal.as_person(site.person("portfolio_manager")).get(_keys(site))
    assert page.status_code == 200
    text = _text(page.text)
    assert "Entrance, Package room" in text
    assert f"Mon{D}Fri 08:00{D}18:00" in text
    assert "Residents 4B" in text
    assert "Any time" in text
    assert "may share" in text
    assert "provides doorcodes" in text
    assert "New key" in text
    assert_no_raw_ids(page.text)


def test_a_limited_keys_manager_sees_no_new_key_and_forged_posts_change_nothing(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("pm_keys_limited"))
    listed = browser.get(_keys(site))
    detail = browser.get(f"{_keys(site)}/{site.resident_key_id}")
    assert listed.status_code == 200
    assert detail.status_code == 200
    assert "New key" not in listed.text
    assert "/edit" not in detail.text
    assert "Give key" in detail.text  # keys.grant is theirs
    before = db.scalar(select(func.count()).select_from(Key))

    created = browser.post(f"{_keys(site)}/new", {"name": "Forged", "door_ids": [site.entrance_id]})
    changed = browser.post(
        f"{_keys(site)}/{site.resident_key_id}/edit",
        {"name": "Renamed", "door_ids": [site.entrance_id]},
    )
    assert created.status_code == 403
    assert changed.status_code == 403
    assert browser.get(f"{_keys(site)}/new").status_code == 403
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Key)) == before
    assert db.get_one(Key, site.resident_key_id).name == "Residents 4B"


def test_a_manager_creates_and_changes_a_key_through_the_form(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("pm_keys_full"))
    form = browser.get(f"{_keys(site)}/new")
    assert form.status_code == 200
    assert "Package room" in form.text
    assert_no_raw_ids(form.text)
    created = browser.post(
        f"{_keys(site)}/new",
        {
            "name": "Gardeners",
            "door_ids": [site.package_room_id],
            **{f"start_{day}": "06:00" for day in range(7)},
            **{f"end_{day}": "23:00" for day in range(7)},
            "may_share": "on",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    key = db.scalars(select(Key).where(Key.name == "Gardeners")).one()
    assert len(key.schedule_json["windows"]) == 7
    assert key.may_share
    assert not key.provides_doorcodes
    shown = browser.get(created.headers["location"])
    assert f"Every day 06:00{D}23:00" in _text(shown.text)

    changed = browser.post(
        f"{_keys(site)}/{key.id}/edit",
        {"name": "Gardeners", "door_ids": [site.package_room_id], "all_day_5": "on"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    db.expire_all()
    assert db.get_one(Key, key.id).schedule_json["windows"] == [
        {"weekday": 5, "start": "00:00", "end": "24:00"}
    ]
    assert "Sat all day" in _text(browser.get(f"{_keys(site)}/{key.id}").text)


def test_the_form_comes_back_with_the_schemas_messages(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))
    refused = browser.post(f"{_keys(site)}/new", {"name": "", "start_2": "8am", "end_2": "18:00"})
    assert refused.status_code == 422
    assert 'id="name-error"' in refused.text
    assert "Wed:" in refused.text
    assert 'value="8am"' in refused.text
    assert db.scalar(select(func.count()).select_from(Key).where(Key.name == "")) == 0


def test_giving_a_key_shows_the_grant_the_api_shows_and_the_locks_progress(
    portal: Portal, db: Session, site: Site, client: TestClient
) -> None:
    manager = site.person("pm_keys_full")
    guest = make_member(
        db, email="sam@example.org", property_id=site.property_id, role=Role.STAFF, name="Sam Ng"
    )
    db.commit()
    browser = portal.as_person(manager)
    url = f"{_keys(site)}/{site.resident_key_id}"
    form = browser.get(url)
    assert "Sam Ng" in form.text
    assert "Give key" in form.text
    assert re.search(r'<label for="ends_at">Ends \(optional\)</label>', form.text)

    answer = browser.post(f"{url}/grants", {"person_id": guest.id, "starts_at": "", "ends_at": ""})
    assert answer.status_code == 200
    text = _text(answer.text)
    assert "The key was given." in text
    assert "Applied at 0 of 2 locks" in text
    assert "Sam Ng" in text
    assert_no_raw_ids(answer.text)

    grants = client.get(
        f"{site.url}/keys/{site.resident_key_id}/grants", headers=site.auth("portfolio_manager")
    )
    given_to = [grant for grant in grants.json()["items"] if grant["person_id"] == guest.id]
    assert len(given_to) == 1
    assert given_to[0]["created_by"] == manager

    sync(db, site.entrance_lock_id)
    after = _text(browser.get(url).text)
    assert "Applied at 1 of 2 locks; 4B door never synced" in after


def test_revoking_through_the_page_ends_the_grant(portal: Portal, db: Session, site: Site) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))
    url = f"{_keys(site)}/{site.resident_key_id}"
    page = browser.get(url)
    assert "data-confirm=" in page.text
    assert "Revoke" in page.text
    answer = browser.post(f"{url}/grants/{site.resident_grant_id}/revoke")
    assert answer.status_code == 200
    text = _text(answer.text)
    assert "The grant was revoked." in text
    assert "Applied at 0 of 2 locks" in text
    db.expire_all()
    assert db.get_one(Grant, site.resident_grant_id).revoked_at is not None
    for lock in (site.entrance_lock_id, site.home_lock_id):
        sync(db, lock)
    assert "Applied at all 2 locks" in _text(browser.get(url).text)


def test_a_specific_keys_manager_sees_only_their_key(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("pm_keys_specific"))
    listed = _text(browser.get(_keys(site)).text)
    assert "Gym" in listed
    assert "Roof" not in listed
    assert "Residents 4B" not in listed
    assert browser.get(f"{_keys(site)}/{site.personas.managed_key_id}").status_code == 200
    other = browser.get(f"{_keys(site)}/{site.personas.other_key_id}")
    assert other.status_code in {403, 404}
    forged = browser.post(
        f"{_keys(site)}/{site.resident_key_id}/grants/{site.resident_grant_id}/revoke"
    )
    assert forged.status_code in {403, 404}
    db.expire_all()
    assert db.get_one(Grant, site.resident_grant_id).revoked_at is None


# Schedules in words ---------------------------------------------------------------------------

DAY_WORDS = {name: index for index, name in enumerate(WEEKDAYS)}


def _days_mentioned(words: str) -> set[int]:
    """The weekdays a schedule in words names, its ranges ("Every day", "Mon-Fri") expanded."""
    days: set[int] = set()
    if "Every day" in words:
        days.update(range(7))
    for first, last in re.findall(
        r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\N{EN DASH}(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", words
    ):
        days.update(range(DAY_WORDS[first], DAY_WORDS[last] + 1))
    days.update(DAY_WORDS[name] for name in re.findall(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", words))
    return days


def test_schedule_words_for_the_usual_schedules() -> None:
    every_day = [(day, "06:00", "23:00") for day in range(7)]
    assert schedule_words(every_day) == f"Every day 06:00{D}23:00"
    assert (
        schedule_words([(day, "08:00", "18:00") for day in range(5)]) == f"Mon{D}Fri 08:00{D}18:00"
    )
    assert schedule_words([]) == "Any time"
    assert schedule_words([(5, "00:00", "24:00"), (6, "00:00", "00:00")]) == "Sat, Sun all day"
    assert (
        schedule_words([(0, "08:00", "12:00"), (0, "13:00", "17:00"), (2, "09:00", "10:00")])
        == f"Mon 08:00{D}12:00 and 13:00{D}17:00; Wed 09:00{D}10:00"
    )


times = st.from_regex(r"\A([01]\d|2[0-4]):[0-5]\d\Z")


@given(st.lists(st.tuples(st.integers(0, 6), times, times), max_size=20))
def test_schedule_words_never_fail_and_name_every_day_with_a_window(
    windows: list[tuple[int, str, str]],
) -> None:
    words = schedule_words(windows)
    assert words
    assert _days_mentioned(words) >= {weekday for weekday, _start, _end in windows}
    if not windows:
        assert words == "Any time"
    else:
        assert _days_mentioned(words) == {weekday for weekday, _start, _end in windows}


def test_a_resident_may_not_see_the_keys_pages(portal: Portal, site: Site) -> None:
    browser = portal.as_person(site.person("resident"))
    assert browser.get(_keys(site)).status_code == 403
    assert browser.get(f"{_keys(site)}/{site.resident_key_id}").status_code == 403


def test_rollout_words_name_the_waiting_doors_in_local_time() -> None:
    def lock(door: str, applied: bool, synced: datetime | None) -> LockStatus:
        return LockStatus("d", "door", door, 2, 2 if applied else 1, applied, synced)

    zone, now = ZoneInfo("America/New_York"), datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    at = datetime(2026, 3, 2, 19, 2, tzinfo=UTC)  # 14:02 in New York
    waiting = [lock("Gym", True, at), lock("Lobby", False, at), lock("Roof", False, None)]
    assert (
        rollout_words(waiting, zone, now)
        == "Applied at 1 of 3 locks; Lobby not synced since 14:02, Roof never synced"
    )
    assert rollout_words([lock("Gym", True, at)], zone, now) == "Applied at its lock"
    assert rollout_words([lock("Gym", True, at)] * 2, zone, now) == "Applied at all 2 locks"
    assert rollout_words([], zone, now) == "No locks at these doors"


def test_a_bad_date_comes_back_with_the_fields_label(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))
    url = f"{_keys(site)}/{site.resident_key_id}/grants"
    answer = browser.post(url, {"person_id": site.person("staff"), "starts_at": "tomorrow"})
    assert answer.status_code == 422
    assert "Starts:" in _text(answer.text)
    db.expire_all()
    held = select(func.count()).select_from(Grant).where(Grant.person_id == site.person("staff"))
    assert db.scalar(held) == 0


def test_saving_a_key_with_two_windows_on_a_day_keeps_both(
    portal: Portal, db: Session, site: Site
) -> None:
    split = (
        {"weekday": 0, "start": "08:00", "end": "12:00"},
        {"weekday": 0, "start": "13:00", "end": "17:00"},
    )
    key = make_key(
        db, property_id=site.property_id, name="Split", door_ids=[site.entrance_id], windows=split
    )
    db.commit()
    browser = portal.as_person(site.person("portfolio_manager"))
    form = browser.get(f"{_keys(site)}/{key.id}/edit")
    assert form.text.count('name="start_0"') == 2
    saved = browser.post(
        f"{_keys(site)}/{key.id}/edit",
        {
            "name": "Split",
            "door_ids": [site.entrance_id],
            "start_0": ["08:00", "13:00"],
            "end_0": ["12:00", "17:00"],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    db.expire_all()
    assert db.get_one(Key, key.id).schedule_json["windows"] == list(split)
