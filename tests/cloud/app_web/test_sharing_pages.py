"""Sharing a home in the app: single-day codes shown once, emailed, revoked with the honest
"may still open" words and per-lock status; guests invited on a schedule; delivery codes."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_member
from keyturn.cloud.models import Grant, GrantKind, Key, OneTimeCode, SingleDayCode
from keyturn.rules.types import Role
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site, mails_to, sync

SECRET = re.compile(r'<span class="secret">(\d+)</span>')


def _sharing(site: Site) -> str:
    return f"/app/properties/{site.property_id}/sharing"


def _single_day(db: Session) -> SingleDayCode:
    db.expire_all()
    return db.scalars(select(SingleDayCode)).one()


def _scheduled_guest(site: Site) -> dict[str, object]:
    """Sam, from 6 Mar 18:00 to 8 Mar 12:00 (New York), Fridays and Saturdays 09:00-21:00."""
    return {
        "email": "sam@example.org",
        "display_name": "Sam",
        "key_id": site.resident_key_id,
        "starts_at": "2026-03-06T18:00",
        "ends_at": "2026-03-08T12:00",
        "weekdays": ["4", "5"],
        "window_start": "09:00",
        "window_end": "21:00",
    }


def test_the_sharing_page_offers_only_my_doors_and_keys(browsers: Portal, site: Site) -> None:
    page = browsers.as_person(site.person("resident")).get(_sharing(site))
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "4B door" in text
    assert "Entrance" in text
    assert "5C door" not in text
    assert "Package room" not in text
    assert "Residents 4B" in text  # the key that may be shared
    assert_no_raw_ids(page.text)


def test_a_single_day_code_is_shown_once_then_revoked_until_the_lock_syncs(
    browsers: Portal, site: Site, db: Session
) -> None:
    browser = browsers.as_person(site.person("resident"))
    made = browser.post(
        f"{_sharing(site)}/single-day-codes",
        {"door_ids": site.home_id, "local_date": "2026-03-02", "guest_label": "Aunt May"},
    )
    assert made.status_code == 200
    shown = SECRET.findall(made.text)
    assert len(shown) == 1
    assert 'data-copy="' + shown[0] + '"' in made.text
    assert "will not be shown again" in made.text
    listed = browser.get(_sharing(site))
    assert "Aunt May" in listed.text
    assert shown[0] not in listed.text

    code = _single_day(db)
    revoked = browser.post(f"{_sharing(site)}/single-day-codes/{code.id}/revoke")
    assert revoked.status_code == 200
    assert "may still open the door" in revoked.text
    assert "4B door" in revoked.text
    assert "not yet" in revoked.text
    assert_no_raw_ids(revoked.text)

    sync(db, site.home_lock_id, browsers.clock())
    after = visible_text(browser.get(_sharing(site)).text)
    assert "revoked" in after
    assert "applied" in after
    assert "not yet" not in after


def test_a_single_day_code_can_be_emailed_to_the_guest(
    browsers: Portal, site: Site, db: Session
) -> None:
    browser = browsers.as_person(site.person("resident"))
    made = browser.post(
        f"{_sharing(site)}/single-day-codes", {"door_ids": site.home_id, "local_date": "2026-03-03"}
    )
    code = SECRET.findall(made.text)[0]
    row = _single_day(db)
    url = f"{_sharing(site)}/single-day-codes/{row.id}/email"
    forged = browser.post(url, {"code": "0000000", "email": "may@example.org"})
    assert forged.status_code == 422
    assert mails_to(db, "may@example.org") == []
    sent = browser.post(url, {"code": code, "email": "may@example.org"}, follow_redirects=False)
    assert sent.status_code == 303
    mails = mails_to(db, "may@example.org")
    assert len(mails) == 1
    assert code in mails[0].body_text
    assert "4B door" in mails[0].body_text


def test_another_units_resident_cannot_touch_my_codes(
    browsers: Portal, site: Site, db: Session
) -> None:
    browsers.as_person(site.person("resident")).post(
        f"{_sharing(site)}/single-day-codes", {"door_ids": site.home_id, "local_date": "2026-03-02"}
    )
    code = _single_day(db)
    neighbour = make_member(
        db,
        email="neighbour@example.org",
        property_id=site.property_id,
        role=Role.RESIDENT,
        unit_id=site.other_unit_id,
    )
    db.commit()
    theirs = browsers.as_person(neighbour.id)
    assert "Code for one day" in theirs.get(_sharing(site)).text
    assert "4B door" not in visible_text(theirs.get(_sharing(site)).text)
    refused = theirs.post(f"{_sharing(site)}/single-day-codes/{code.id}/revoke")
    assert refused.status_code == 404
    assert _single_day(db).revoked_at is None
    made = theirs.post(
        f"{_sharing(site)}/single-day-codes", {"door_ids": site.home_id, "local_date": "2026-03-02"}
    )
    assert made.status_code == 403
    assert SECRET.findall(made.text) == []


def test_inviting_a_guest_on_a_schedule_is_what_the_api_shows(
    browsers: Portal, site: Site, db: Session, client: TestClient
) -> None:
    browser = browsers.as_person(site.person("resident"))
    answer = browser.post(
        f"{_sharing(site)}/guests",
        _scheduled_guest(site),
        follow_redirects=False,
    )
    assert answer.status_code == 303
    listed = client.get(f"{site.url}/guests", headers=site.auth("resident")).json()["items"]
    assert [(guest["display_name"], guest["email"]) for guest in listed] == [
        ("Sam", "sam@example.org")
    ]
    assert listed[0]["starts_at"].startswith("2026-03-06T23:00")  # 18:00 in New York
    page = visible_text(browser.get(_sharing(site)).text)
    assert "Sam" in page
    assert "upcoming" in page
    assert "Fri 09:00 to 21:00" in page
    assert "Sat 09:00 to 21:00" in page

    grant = db.get_one(Grant, listed[0]["grant_id"])
    revoked = browser.post(f"{_sharing(site)}/guests/{grant.id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303
    db.expire_all()
    assert db.get_one(Grant, grant.id).revoked_at is not None


def test_guests_on_hours_of_their_own_get_keys_named_for_people_not_ids(
    browsers: Portal, site: Site, db: Session
) -> None:
    """A guest's hours make a key of their own: "<key>, guest hours (N)", no id, no guest."""
    browser = browsers.as_person(site.person("resident"))
    for email in ("sam@example.org", "kim@example.org"):
        invited = browser.post(
            f"{_sharing(site)}/guests",
            {**_scheduled_guest(site), "email": email, "display_name": email[:3].title()},
            follow_redirects=False,
        )
        assert invited.status_code == 303
    db.expire_all()
    guests = db.scalars(select(Grant).where(Grant.kind == GrantKind.GUEST)).all()
    shared = db.get_one(Key, site.resident_key_id).name
    assert sorted(db.get_one(Key, grant.key_id).name for grant in guests) == [
        f"{shared}, guest hours (1)",
        f"{shared}, guest hours (2)",
    ]


def test_the_guests_email_says_when_in_the_buildings_time(
    browsers: Portal, site: Site, db: Session
) -> None:
    browsers.as_person(site.person("resident")).post(
        f"{_sharing(site)}/guests",
        _scheduled_guest(site),
        follow_redirects=False,
    )
    (mail,) = [m for m in mails_to(db, "sam@example.org") if m.subject.startswith("Your access")]
    text = " ".join(mail.body_text.split())
    assert "From Fri 6 Mar 2026, 18:00 until Sun 8 Mar 2026, 12:00;" in text
    assert "hours: Fri, Sat 09:00\N{EN DASH}21:00 (the building's local time)" in text
    assert "2026-03-06T" not in text


def test_a_bad_invitation_comes_back_with_its_messages(browsers: Portal, site: Site) -> None:
    page = browsers.as_person(site.person("resident")).post(
        f"{_sharing(site)}/guests",
        {"email": "not an address", "display_name": "Sam", "key_id": site.resident_key_id},
    )
    assert page.status_code == 422
    assert "Please correct the form" in page.text
    assert 'value="Sam"' in page.text


def test_a_guest_cannot_invite(browsers: Portal, site: Site, db: Session) -> None:
    guest = browsers.as_person(site.person("guest"))
    assert guest.get(_sharing(site)).status_code == 403
    home = guest.get(f"/app/properties/{site.property_id}")
    assert home.status_code == 200
    assert "/sharing" not in home.text
    forged = guest.post(
        f"{_sharing(site)}/guests",
        {
            "email": "sam@example.org",
            "display_name": "Sam",
            "key_id": site.resident_key_id,
            "starts_at": "2026-03-06T18:00",
        },
    )
    assert forged.status_code == 403
    guests = db.scalars(select(Grant).where(Grant.kind == GrantKind.GUEST)).all()
    assert list(guests) == []


def test_a_delivery_code_is_shown_once_and_revoked(
    browsers: Portal, site: Site, db: Session
) -> None:
    browser = browsers.as_person(site.person("resident"))
    made = browser.post(
        f"{_sharing(site)}/one-time-codes", {"door_id": site.entrance_id, "valid_minutes": "10"}
    )
    assert made.status_code == 200
    assert len(SECRET.findall(made.text)) == 1
    assert "10 minutes" in made.text
    db.expire_all()
    row = db.scalars(select(OneTimeCode)).one()
    page = visible_text(browser.get(_sharing(site)).text)
    assert "not used yet" in page
    revoked = browser.post(
        f"{_sharing(site)}/one-time-codes/{row.id}/revoke", follow_redirects=False
    )
    assert revoked.status_code == 303
    db.expire_all()
    assert db.get_one(OneTimeCode, row.id).revoked_at is not None
