"""Sharing a home in the app (issue 14), in Debian's Chromium against a real `keyturn serve`,
its SMTP server and a reference lock at the resident's door, on SQLite and PostgreSQL.

A resident invites a guest on a weekly schedule from the sharing page; the guest accepts the
emailed invitation, sees when they can get in, enrols this browser as a phone and unlocks the
door inside the schedule; the lock's clock moved outside it (its near-field test hook) refuses
the same phone, and the app says why. A single-day code is made, opens the keypad and is
revoked: the page says it may still open until the lock syncs and shows the lock pending;
after the sync the lock shows applied and the keypad refuses the code.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import httpx
import pytest
from browser import (
    Login,
    PortalSite,
    add_resident,
    check_page,
    confirm_dialogs,
    open_page,
    shoot,
    sign_in_to_app,
    text_of,
)
from playwright.sync_api import Browser, expect

from factories import PASSWORD
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import Property
from keyturn.cloud.sessions import session_factory
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.near_field import NearField
from keyturn.rules.types import CredentialType, Reason

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
RESIDENT = Login("Ada Park", "ada@example.test", PASSWORD)
GUEST = Login("Bea Moss", "bea@example.test", "a guest's own long password")
HOME = "4B door"
INVITATION = re.compile(r"https?://\S+(/invitation#token=\S+)")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@pytest.fixture
def site(portal_site: PortalSite) -> PortalSite:
    """The portal's building, served with its mail, and Ada: a resident of 4B holding its unit
    key (which may be shared)."""
    world = portal_site.world
    with session_factory(portal_site.engine)() as session:
        add_resident(
            session, world, RESIDENT, key_id=world.unit_key_id, now=utcnow(), resident=True
        )
    return portal_site


def local_now(site: PortalSite) -> datetime:
    """Now in the building's time zone."""
    with session_factory(site.engine)() as session:
        zone = session.get_one(Property, site.world.property_id).zone
    return utcnow().astimezone(zone)


def set_lock_time(near_field: NearField, at: datetime) -> None:
    """Move the lock's clock through its near-field test hook (docs/near-field.md)."""
    moved = httpx.post(f"{near_field.url}/test/clock", json={"at": at.isoformat()}, timeout=10)
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["lock_time"]) == at


def last_entry(lock: Lock) -> tuple[CredentialType, Reason]:
    (entry,) = lock.journal.entries(lock.journal.last_seq)
    return entry.credential_type, entry.reason


def test_a_guest_on_a_weekly_schedule_unlocks_inside_it_and_is_told_why_not_outside(
    chromium: Browser, site: PortalSite, request: pytest.FixtureRequest
) -> None:
    today = local_now(site)
    clock = ManualClock(utcnow())
    lock = site.install_lock(HOME, clock)
    near_field = NearField(lock, test_clock=clock).start()
    try:
        site.sync_all(HOME)  # the cloud learns where the lock listens

        # Ada invites Bea for today's weekday, all day (00:00 to midnight), from now on.
        with open_page(chromium, site, request.node.name, viewport=PHONE) as page:
            sign_in_to_app(page, RESIDENT, checked=True)
            page.goto(f"/app/properties/{site.world.property_id}/sharing")
            page.get_by_text("Invite a guest").click()
            page.get_by_label("Guest's name").fill(GUEST.name)
            page.get_by_label("Guest's email").fill(GUEST.email)
            page.get_by_label("Key").select_option(label="Residents 4B")
            page.get_by_label("Starts").fill(today.strftime("%Y-%m-%dT%H:%M"))
            page.get_by_label(WEEKDAYS[today.weekday()], exact=True).check()
            page.get_by_label("From").fill("00:00")
            page.get_by_label("Until").fill("00:00")
            check_page(page)
            shoot(page, "inviting")
            page.get_by_role("button", name="Invite").click()
            expect(page.get_by_text("Your guest is invited")).to_be_visible()
            guest = page.locator(".item").filter(has_text=GUEST.name)
            expect(guest.get_by_text("active")).to_be_visible()
            check_page(page)
            shoot(page, "invited")

        invitation = INVITATION.search(text_of(site.mail_to(GUEST.email, containing=INVITATION)))
        assert invitation is not None
        access = text_of(site.mail_to(GUEST.email, containing=re.compile("shared a key")))
        assert f"hours: {WEEKDAYS[today.weekday()]} all day" in access

        # Bea accepts, sets her password, signs in and sees when she can get in.
        with open_page(chromium, site, request.node.name, viewport=PHONE) as page:
            page.goto(invitation[1])
            page.get_by_label("Password", exact=True).fill(GUEST.password)
            page.get_by_label("Repeat password").fill(GUEST.password)
            check_page(page)
            page.get_by_role("button", name="Accept and set the password").click()
            expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
            check_page(page)
            sign_in_to_app(page, GUEST, checked=True)
            page.get_by_role("link", name=site.world.property_name).click()
            check_page(page)
            page.get_by_role("link", name=re.compile("When can I get in")).click()
            door_now = page.locator(".now-doors li").filter(has_text=HOME)
            expect(door_now).to_contain_text("You can open it now.")
            facts = page.locator(".facts")
            expect(facts).to_contain_text(f"{WEEKDAYS[today.weekday()]} all day")
            expect(facts).to_contain_text(f"Invited by{RESIDENT.name}")
            check_page(page)
            shoot(page, "when can I get in")

            # This browser becomes Bea's phone; inside her hours the door opens.
            page.get_by_role("link", name="Doors").click()
            page.get_by_role("button", name="Use this browser as your phone key").click()
            unlock = page.get_by_role("button", name=f"Unlock {HOME}")
            expect(unlock).to_be_visible()
            check_page(page)
            set_lock_time(near_field, utcnow().replace(microsecond=0))  # its clock stood still
            unlock.click()
            expect(page.get_by_text(f"{HOME} is unlocked.")).to_be_visible()
            assert last_entry(lock) == (CredentialType.MOBILE_KEY, Reason.GRANTED)
            shoot(page, "unlocked inside the schedule")

            # Tomorrow at noon is outside them: the lock refuses, and the page says why.
            tomorrow_noon = datetime.combine(
                today.date() + timedelta(days=1), time(12), tzinfo=today.tzinfo
            )
            set_lock_time(near_field, tomorrow_noon)
            unlock.click()
            outcome = page.locator(".door").filter(has=unlock).get_by_role("status")
            expect(outcome).to_contain_text("Refused")
            expect(outcome).to_contain_text("Outside your weekly hours")
            assert last_entry(lock) == (CredentialType.MOBILE_KEY, Reason.OUTSIDE_SCHEDULE)
            check_page(page, locks=[near_field.url])
            shoot(page, "refused outside the schedule")
    finally:
        near_field.stop()


def test_a_single_day_code_opens_until_its_revocation_reaches_the_lock(
    chromium: Browser, site: PortalSite, request: pytest.FixtureRequest
) -> None:
    lock = site.install_lock(HOME)
    site.sync_all(HOME)
    with open_page(chromium, site, request.node.name, viewport=PHONE) as page:
        asked = confirm_dialogs(page)
        sign_in_to_app(page, RESIDENT, checked=True)
        page.goto(f"/app/properties/{site.world.property_id}/sharing")
        codes = page.locator("#single-day")
        codes.get_by_label(HOME).check()
        codes.get_by_label("Who it is for (optional)").fill("the plumber")
        check_page(page)
        codes.get_by_role("button", name="Create the code").click()

        # Shown once; the lock checks it on its own.
        expect(page.get_by_role("heading", name="Your single-day code")).to_be_visible()
        code = page.locator(".secret").inner_text().strip()
        assert re.fullmatch(r"\d{6}", code), code
        check_page(page)
        shoot(page, "code shown once")
        site.sync_all(HOME)
        assert lock.enter_code(code).granted

        # Revoked: the answer says it may still open until the lock syncs, the lock pending.
        page.get_by_role("link", name="Back to sharing").click()
        mine = page.locator(".item").filter(has_text="for the plumber")
        expect(mine.get_by_text("valid")).to_be_visible()
        check_page(page)
        mine.get_by_role("button", name="Revoke").click()
        expect(page.get_by_role("heading", name="Code revoked")).to_be_visible()
        assert [question for question in asked if "until the lock syncs" in question]
        expect(page.get_by_text("The code may still open the door")).to_be_visible()
        pending = page.locator(".locks li").filter(has_text=HOME)
        expect(pending.get_by_text("not yet")).to_be_visible()
        check_page(page)
        shoot(page, "revoked, lock pending")
        assert lock.decide_code(code).granted  # the lock has not heard yet

        # The lock syncs and takes the revocation; it reports the list it applied at its next
        # sync, after which the sharing page shows it applied.
        site.sync_all(HOME)
        assert not lock.decide_code(code).granted
        site.sync(HOME)
        page.get_by_role("link", name="Back to sharing").click()
        mine = page.locator(".item").filter(has_text="for the plumber")
        expect(mine.get_by_text("revoked")).to_be_visible()
        expect(
            mine.locator(".locks li").filter(has_text=HOME).get_by_text("applied")
        ).to_be_visible()
        check_page(page)
        shoot(page, "revocation applied")
    refused = lock.enter_code(code)
    assert (refused.granted, refused.decision.reason) == (False, Reason.REVOKED)
