"""The manager portal in a real browser (Debian's Chromium) against a real `keyturn serve`, on
SQLite and on PostgreSQL: signing in through the form, every section of the side navigation,
the phone layout, /docs without a CDN, and issue 13's whole path from an invitation to a door
that opens, with the mail read from a real SMTP server and a reference lock syncing over HTTP.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from browser import (
    PortalSite,
    check_page,
    confirm_dialogs,
    csrf_cookie,
    open_page,
    shoot,
    sign_in,
    text_of,
    walk,
    watch_of,
)
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from factories import give_key, make_key, record_event, record_photo
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import Door
from keyturn.cloud.sessions import session_factory
from keyturn.rules.types import CredentialType, Reason
from keyturn.settings import PHOTO_DIR

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
CODE = re.compile(r"\b(\d{6})\b")
ALL_APPLIED = re.compile(r"Applied at (all 2|2 of 2) locks")


def _nav_links(page: Page) -> list[tuple[str, str]]:
    nav = page.get_by_role("navigation", name=re.compile(".+"))
    return [
        (link.inner_text().strip(), str(link.get_attribute("href")))
        for link in nav.get_by_role("link").all()
    ]


def test_a_manager_signs_in_walks_every_section_and_signs_out(
    page: Page, portal_site: PortalSite
) -> None:
    world = portal_site.world
    sign_in(page, world.manager)
    page.get_by_role("link", name=world.property_name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(world.property_name)
    for door in ("Main entrance", "Gym", "4B door"):
        expect(page.get_by_role("cell", name=door, exact=True)).to_be_visible()
    check_page(page)
    shoot(page, "overview")

    links = _nav_links(page)
    assert [label for label, _ in links][:3] == ["Overview", "Alerts", "People"]
    answers = {}
    for label, href in links:
        response = page.goto(href)
        assert response is not None
        answers[label] = response.status
        if response.status == 200:
            check_page(page)
            shoot(page, label)
    # Every section a full manager may open is a page (the other branches build them).
    assert answers == {label: 200 for label, _ in links}

    page.get_by_role("button", name="Sign out").click()
    page.goto(portal_site.overview)
    expect(page).to_have_url(re.compile(r"/portal/sign-in"))


def test_the_overview_fits_a_phone(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> None:
    with open_page(chromium, portal_site, request.node.name, viewport=PHONE) as page:
        sign_in(page, portal_site.world.manager)
        page.goto(portal_site.overview)
        expect(page.get_by_role("cell", name="Main entrance", exact=True)).to_be_attached()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        shoot(page, "overview-phone")
        assert overflow <= 0, f"the overview scrolls sideways by {overflow}px on a phone"


def test_api_docs_render_from_this_server_alone(page: Page) -> None:
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    shoot(page, "docs")
    watch = watch_of(page)
    assert watch.foreign_requests() == []
    assert watch.console_errors == []


# Issue 13: the whole path ------------------------------------------------------------------------


def test_the_scenarios_machinery_mail_and_a_lock_over_http(portal_site: PortalSite) -> None:
    """What the scenario below relies on besides its pages, through the API: an invitation
    reaches the SMTP server, a lock provisioned over HTTP learns a code at its next sync and
    opens for it, and the entry reaches the cloud's history."""
    world = portal_site.world
    api = httpx.Client(base_url=portal_site.url, timeout=10.0)
    login = api.post(
        "/api/v1/auth/login",
        json={"email": world.manager.email, "password": world.manager.password, "mode": "token"},
    )
    assert login.status_code == 200, login.text
    api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    base = f"/api/v1/properties/{world.property_id}"
    invited = api.post(
        f"{base}/people",
        json={
            "email": "ada@example.test",
            "display_name": "Ada Park",
            "role": "resident",
            "unit_id": world.unit_id,
        },
    )
    assert invited.status_code == 201, invited.text
    assert "12 Elm St" in text_of(portal_site.mail_to("ada@example.test"))

    gym = portal_site.install_lock("Gym")
    assert not gym.decide_code(world.neighbour_code).granted  # nothing synced yet
    portal_site.sync("Gym")
    assert gym.enter_code(world.neighbour_code).granted
    portal_site.sync("Gym")
    events = api.get(f"{base}/events").json()["items"]
    attempts = [(e["door_id"], e["subject_id"], e["outcome"]) for e in events]
    assert (world.door_id("Gym"), world.neighbour_id, "granted") in attempts
    api.close()


def _starts_now(page: Page) -> None:
    """Fill "Starts" with a moment just past in the building's time, unless it has one."""
    starts = page.get_by_label("Starts", exact=True)
    if starts.input_value():
        return
    moment = datetime.now(ZoneInfo("America/New_York")) - timedelta(minutes=5)
    if starts.get_attribute("type") == "date":
        starts.fill(moment.strftime("%Y-%m-%d"))
    else:
        starts.fill(moment.strftime("%Y-%m-%dT%H:%M"))


def test_a_manager_invites_gives_a_key_issues_a_code_and_the_door_opens(
    page: Page, portal_site: PortalSite
) -> None:
    world = portal_site.world
    entrance = portal_site.install_lock("Main entrance")
    portal_site.install_lock("4B door")
    portal_site.sync("Main entrance")
    portal_site.sync("4B door")
    sign_in(page, world.manager)
    page.goto(portal_site.overview)

    # People → "Invite someone": the invitation reaches the person's mailbox.
    page.get_by_role("navigation").get_by_role("link", name="People").click()
    page.get_by_role("link", name="Invite someone").click()
    page.get_by_label("Email", exact=True).fill("ada@example.test")
    page.get_by_label("Name", exact=True).fill("Ada Park")
    page.get_by_label("Role", exact=True).select_option(label="Resident")
    page.get_by_label("Unit", exact=True).select_option(label="4B")
    check_page(page)
    shoot(page, "invite")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Ada Park").first).to_be_visible()
    invitation = portal_site.mail_to("ada@example.test")
    assert "12 Elm St" in text_of(invitation)
    seen = len(portal_site.mailbox.messages)

    # Keys → the unit key → "Give key": not at any lock until they sync, then at all of them.
    page.get_by_role("navigation").get_by_role("link", name="Keys").click()
    page.get_by_role("link", name="Residents 4B").click()
    page.get_by_label("Person", exact=True).select_option(label="Ada Park")
    _starts_now(page)
    page.get_by_label("Resident status").check()
    page.get_by_role("button", name="Give key").click()
    expect(page.get_by_text("Applied at 0 of 2 locks")).to_be_visible()
    check_page(page)
    shoot(page, "key-given")
    portal_site.sync("Main entrance")
    portal_site.sync("4B door")
    page.reload()
    expect(page.get_by_text(ALL_APPLIED)).to_be_visible()

    # People → Ada → Credentials → "Issue doorcode" at the entrance (her entries at her own
    # door are hers alone, V1): the code arrives by mail and the entrance opens for it.
    page.get_by_role("navigation").get_by_role("link", name="People").click()
    page.get_by_role("link", name="Ada Park").click()
    page.get_by_role("link", name="Credentials").click()
    page.get_by_label("Door", exact=True).select_option(label="Main entrance")
    page.get_by_role("button", name="Issue doorcode").click()
    check_page(page)
    shoot(page, "doorcode-issued")
    mail = portal_site.mail_to("ada@example.test", after=seen, containing=CODE)
    found = CODE.search(text_of(mail))
    assert found is not None
    code = found[1]
    assert not entrance.decide_code(code).granted  # the lock has not heard of it yet
    portal_site.sync("Main entrance")
    assert entrance.enter_code(code).granted
    portal_site.sync("Main entrance")  # the entry goes up to the cloud

    # History shows that entry, named.
    page.get_by_role("navigation").get_by_role("link", name="History").click()
    entry = page.get_by_role("row").filter(has_text="Main entrance").filter(has_text="Ada Park")
    expect(entry.first).to_be_visible()
    check_page(page)
    shoot(page, "history")

    # Ada → Credentials → "Suspend building access", after the browser's confirm.
    asked = confirm_dialogs(page)
    page.get_by_role("navigation").get_by_role("link", name="People").click()
    page.get_by_role("link", name="Ada Park").click()
    page.get_by_role("link", name="Credentials").click()
    page.get_by_role("button", name="Suspend building access").click()
    expect(page.get_by_text(re.compile("suspended", re.I)).first).to_be_visible()
    assert asked, "suspending asked for no confirmation"
    shoot(page, "suspended")
    portal_site.sync("Main entrance")
    assert not entrance.decide_code(code).granted


def test_a_limited_key_manager_cannot_create_keys(page: Page, portal_site: PortalSite) -> None:
    sign_in(page, portal_site.world.limited_manager)
    keys = f"{portal_site.overview}/keys"
    response = page.goto(keys)
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="New key")).to_have_count(0)
    expect(page.get_by_role("button", name="New key")).to_have_count(0)
    check_page(page)
    forged = page.request.post(
        f"{keys}/new",
        form={"csrf_token": csrf_cookie(page), "name": "Roof", "door_ids": ""},
        max_redirects=0,
    )
    assert forged.status == 403
    page.goto(keys)
    expect(page.get_by_text("Roof")).to_have_count(0)


# V1 and P4 in the browser --------------------------------------------------------------------


def _sams_home_entries(site: PortalSite) -> tuple[str, str]:
    """Sam opens 5C's door with resident status there, and someone tries a wrong code at it
    (photographed): the 5C door's id and the wrong code's event id."""
    with session_factory(site.engine)() as session, session.begin():
        door = session.scalars(
            select(Door).where(Door.property_id == site.world.property_id, Door.name == "5C door")
        ).one()
        now = utcnow()
        key = make_key(session, property_id=door.property_id, name="Home 5C", door_ids=[door.id])
        give_key(
            session,
            key=key,
            person_id=site.world.neighbour_id,
            starts_at=now - timedelta(days=3),
            resident=True,
        )
        record_event(
            session,
            door=door,
            occurred_at=now - timedelta(hours=1),
            subject_id=site.world.neighbour_id,
            by_resident=True,
            credential_type=CredentialType.KEYCARD,
        )
        wrong = record_event(
            session,
            door=door,
            occurred_at=now - timedelta(minutes=50),
            credential_type=CredentialType.PERSONAL_DOORCODE,
            reason=Reason.UNKNOWN_CREDENTIAL,
        )
        record_photo(session, photo_dir=site.folder / "server" / PHOTO_DIR, event=wrong)
        return door.id, wrong.id


def test_a_manager_never_sees_a_residents_entries_at_home_a_security_viewer_sees_the_photo(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> None:
    """V1: Sam's own entry at his door is his; V4: the wrong code there is the building's;
    P4: its photo is for the security viewer, not for a manager without that power."""
    door_id, _wrong = _sams_home_entries(portal_site)
    history = f"{portal_site.overview}/history?door={door_id}"
    world = portal_site.world

    with open_page(chromium, portal_site, request.node.name + "-limited") as page:
        sign_in(page, world.limited_manager)
        page.goto(history)
        rows = page.get_by_role("row").filter(has_text="5C door")
        expect(rows).to_have_count(1)  # the wrong code only
        expect(page.get_by_text("Sam Ortiz")).to_have_count(0)
        expect(page.get_by_role("link", name="View photo")).to_have_count(0)
        check_page(page)
        shoot(page, "manager-history")

    with open_page(chromium, portal_site, request.node.name + "-viewer") as page:
        sign_in(page, world.security_viewer)
        page.goto(history)
        expect(page.get_by_text("Sam Ortiz")).to_have_count(0)
        photo = page.get_by_role("link", name="View photo")
        expect(photo).to_have_count(1)
        check_page(page)
        shoot(page, "viewer-history")
        answer = page.request.get(str(photo.get_attribute("href")))
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("image/")


# Every page, as the portfolio manager ------------------------------------------------------------

CRAWL_LIMIT = 45
NOT_PAGES = ("/sign-out", "/photos/", "export.csv", "/live")


def test_every_page_a_portfolio_manager_reaches_answers_named_and_accessible(
    page: Page, portal_site: PortalSite
) -> None:
    """From the overview, every portal page three links deep: 200, axe clean (no critical or
    serious finding), no other origin, no raw id on screen, a screenshot each."""
    portal_site.install_lock("Main entrance")
    portal_site.sync("Main entrance")
    sign_in(page, portal_site.world.owner)
    start = portal_site.overview
    seen = walk(
        page,
        [start, "/portal/account"],
        within="/portal/",
        not_pages=NOT_PAGES,
        limit=CRAWL_LIMIT,
        shot_name=lambda path: path.removeprefix(start).strip("/") or "overview",
    )
    sections = {"/alerts", "/people", "/keys", "/guests", "/history", "/devices", "/requests"}
    assert {start + section for section in sections} <= set(seen)
    assert {start + "/retention", start + "/audit"} <= set(seen)
    assert len(seen) >= 15
