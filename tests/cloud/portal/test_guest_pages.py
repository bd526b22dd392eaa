"""The guests-and-codes page: guests (A5), single-day codes shown once and revoked honestly
(A4), courier codes never for a home's door (A8), service providers."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import Clock
from keyturn.cloud.models import Grant, GrantKind, Key, OneTimeCode, SingleDayCode
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site, sync

SECRET = re.compile(r'<span class="secret">(\d+)</span>')


def _page(site: Site) -> str:
    return f"/portal/properties/{site.property_id}/guests"


def _count(db: Session, model: type[OneTimeCode] | type[SingleDayCode]) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_rule_a4_a_single_day_code_is_shown_once_and_its_revocation_says_it_may_still_open(
    portal: Portal, db: Session, site: Site
) -> None:
    resident = portal.as_person(site.person("resident"))
    form = resident.get(_page(site))
    assert form.status_code == 200
    assert "Create single-day code" in form.text
    assert "4B door" in form.text

    made = resident.post(
        _page(site) + "/single-day-codes",
        {"door_ids": site.home_id, "local_date": "2026-03-02", "guest_label": "Aunt May"},
    )

    assert made.status_code == 200
    codes = SECRET.findall(made.text)
    assert len(codes) == 1
    assert "will not be shown again" in made.text
    assert_no_raw_ids(made.text)
    again = resident.get(_page(site))
    assert codes[0] not in visible_text(again.text)
    assert "Aunt May" in again.text
    assert_no_raw_ids(again.text)

    code_id = db.scalars(select(SingleDayCode.id)).one()
    revoked = resident.post(_page(site) + f"/single-day-codes/{code_id}/revoke")

    assert revoked.status_code == 200
    assert "may still open the door" in revoked.text
    assert "4B door" in revoked.text
    assert "not yet" in revoked.text
    assert_no_raw_ids(revoked.text)
    sync(db, site.home_lock_id)
    listed = resident.get(_page(site))
    assert "revoked" in listed.text
    assert "applied" in listed.text


def test_rule_a8_a_courier_code_for_a_residence_door_is_refused_and_nothing_is_made(
    portal: Portal, db: Session, site: Site
) -> None:
    manager = portal.as_person(site.person("portfolio_manager"))
    page = manager.get(_page(site))
    assert "Create courier code" in page.text
    offered = re.search(r"courier-door-.*?</fieldset>", page.text, flags=re.S)
    assert offered is not None
    assert site.package_room_id in offered.group(0)
    assert site.home_id not in offered.group(0)

    refused = manager.post(
        _page(site) + "/courier-codes", {"door_ids": [site.entrance_id, site.home_id]}
    )

    assert refused.status_code == 422
    assert "residence" in refused.text
    assert "4B door" in refused.text
    assert_no_raw_ids(refused.text)
    assert _count(db, OneTimeCode) == 0

    made = manager.post(_page(site) + "/courier-codes", {"door_ids": [site.package_room_id]})
    assert made.status_code == 200
    assert len(SECRET.findall(made.text)) == 1
    assert "will not be shown again" in made.text
    assert _count(db, OneTimeCode) == 1
    listed = manager.get(_page(site))
    assert "Package room" in listed.text
    assert SECRET.findall(made.text)[0] not in visible_text(listed.text)

    code_id = db.scalars(select(OneTimeCode.id)).one()
    gone = manager.post(_page(site) + f"/one-time-codes/{code_id}/revoke", follow_redirects=False)
    assert gone.status_code == 303
    db.expire_all()
    assert db.get_one(OneTimeCode, code_id).revoked_at is not None


def test_a_resident_does_not_see_couriers_and_a_forged_courier_post_is_refused(
    portal: Portal, db: Session, site: Site
) -> None:
    resident = portal.as_person(site.person("resident"))
    page = resident.get(_page(site))
    assert "Courier codes" not in page.text

    forged = resident.post(_page(site) + "/courier-codes", {"door_ids": [site.package_room_id]})

    assert forged.status_code == 403
    assert _count(db, OneTimeCode) == 0


def test_inviting_a_guest_shows_them_by_name_and_revoking_ends_their_access(
    portal: Portal, db: Session, site: Site, clock: Clock
) -> None:
    resident = portal.as_person(site.person("resident"))
    invited = resident.post(
        _page(site),
        {
            "email": "sam@example.org",
            "display_name": "Sam Visitor",
            "key_id": site.resident_key_id,
            "starts_at": "2026-03-03T18:00",
            "ends_at": "2026-03-05T12:00",
        },
    )

    assert invited.status_code == 200  # followed the redirect back to the page
    assert "Sam Visitor" in invited.text
    assert "The guest is invited" in invited.text
    assert_no_raw_ids(invited.text)
    grant = db.scalars(select(Grant).where(Grant.kind == GrantKind.GUEST)).one()
    assert grant.starts_at.hour == 23  # 18:00 in New York

    bad = resident.post(
        _page(site),
        {"email": "not an email", "display_name": "X", "key_id": site.resident_key_id},
    )
    assert bad.status_code == 422
    assert "Please correct the form" in bad.text

    gone = resident.post(_page(site) + f"/{grant.id}/revoke")
    assert gone.status_code == 200, gone.text
    db.expire_all()
    assert db.get_one(Grant, grant.id).revoked_at is not None


def test_booking_a_service_provider_needs_a_weekly_schedule_and_lists_it(
    portal: Portal, db: Session, site: Site
) -> None:
    manager = portal.as_person(site.person("pm_keys_full"))
    booked = manager.post(
        _page(site) + "/service-providers",
        {
            "email": "walker@example.org",
            "display_name": "Dog walker",
            "door_ids": [site.entrance_id],
            "weekdays": ["0", "2"],
            "window_start": "12:00",
            "window_end": "13:00",
        },
    )

    assert booked.status_code == 200
    assert "Dog walker" in booked.text
    assert "Mon 12:00 to 13:00" in booked.text
    assert_no_raw_ids(booked.text)
    grant = db.scalars(select(Grant).where(Grant.kind == GrantKind.SERVICE_PROVIDER)).one()
    assert db.get_one(Key, grant.key_id).name == "service provider: Dog walker (1)"
    manager.post(_page(site) + f"/service-providers/{grant.id}/revoke")
    db.expire_all()
    assert db.get_one(Grant, grant.id).revoked_at is not None


def test_staff_cannot_open_the_page(portal: Portal, site: Site) -> None:
    staff = portal.as_person(site.person("staff"))
    assert staff.get(_page(site)).status_code == 403
