"""A resident's first day with the app (issue 14), in Debian's Chromium against a real
`keyturn serve` that mails through a real SMTP server, and a reference lock on the resident's
own door whose near-field service listens on loopback, on SQLite and PostgreSQL.

A manager moves Ada into 4B by email through the API; the invitation arrives at the SMTP
server, its link opens the page where she chooses a password, and signing in takes her to the
app. The building is in New York City, so the app asks for her consent (R5) before this
browser may become her phone key; she gives it and enrols (only a 32-byte public key leaves
the browser, the private key is not extractable), unlocks 4B's door through the lock, then
unlocks it again with the server stopped, from the service worker's copy of the page and the
cached mobile key. Once the server is back the lock syncs, and her history in the app shows
both entries under her name.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from browser import (
    Login,
    PortalSite,
    check_page,
    keep_for_offline,
    mail_settings,
    make_portal_world,
    open_page,
    shoot,
    text_of,
)
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy import Engine, select

import live_server
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import Device, Event, Person
from keyturn.cloud.sessions import session_factory
from keyturn.lock.near_field import NearField
from keyturn.rules.consent import NYC
from keyturn.rules.types import CredentialType, Reason
from smtp_server import Mailbox, smtp_server

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
RESIDENT = Login("Ada Park", "ada@example.test", "four words she will remember")
DOOR = "4B door"
INVITATION_LINK = re.compile(r"(http://\S+/invitation#token=[\w-]+)")


@pytest.fixture
def site(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[PortalSite]:
    """The portal's building in New York City, served by a cloud whose mail goes to a real
    SMTP server and whose emailed links point at the cloud itself."""
    with session_factory(engine)() as session:
        world = make_portal_world(session, now=utcnow(), jurisdiction=NYC)
    mailbox = Mailbox()
    port = live_server.free_port()
    with smtp_server(mailbox) as smtp_port:
        settings = {
            **mail_settings(smtp_port),
            "KEYTURN_AUTH_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        server = live_server.start(db_url, tmp_path / "server", settings, port=port)
        opened = PortalSite(server, world, mailbox, engine, tmp_path)
        try:
            yield opened
        finally:
            live_server.stop(opened.server)
            opened.close()


def move_in_by_email(site: PortalSite) -> None:
    """The manager moves Ada into 4B by her email, as POST …/residencies does for anyone new:
    the resident role, 4B's key with resident status, and the invitation by mail."""
    world = site.world
    manager = {"email": world.manager.email, "password": world.manager.password, "mode": "token"}
    with httpx.Client(base_url=site.url, timeout=10.0) as api:
        login = api.post("/api/v1/auth/login", json=manager)
        assert login.status_code == 200, login.text
        moved = api.post(
            f"/api/v1/properties/{world.property_id}/residencies",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
            json={
                "email": RESIDENT.email,
                "display_name": RESIDENT.name,
                "unit_id": world.unit_id,
                "starts_at": utcnow().isoformat(),
            },
        )
        assert moved.status_code == 201, moved.text


def enrol_request_body(request: Request) -> dict[str, str]:
    body = request.post_data_json
    assert isinstance(body, dict)
    return body


def accept_the_invitation(page: Page, site: PortalSite) -> None:
    """From the mailed link to the app's first page, through the shared sign-in form."""
    found = INVITATION_LINK.search(text_of(site.mail_to(RESIDENT.email)))
    assert found is not None
    assert found[1].startswith(f"{site.url}/invitation#token=")
    page.goto(found[1])
    expect(page.get_by_label("Code from the link in your email")).to_be_hidden()
    page.get_by_label("Password", exact=True).fill(RESIDENT.password)
    page.get_by_label("Repeat password").fill(RESIDENT.password)
    check_page(page)
    shoot(page, "invitation")
    page.get_by_role("button", name="Accept and set the password").click()
    expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill(RESIDENT.email)
    page.get_by_label("Password").fill(RESIDENT.password)
    check_page(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/app/$"))  # a resident's front end is the app


def consent_then_open_the_doors_page(page: Page, site: PortalSite) -> None:
    """The doors page offers no enrolment before the consent the building needs (R5)."""
    expect(page.get_by_role("heading", name="Your homes")).to_be_visible()
    check_page(page)
    shoot(page, "app home")
    page.get_by_role("link", name="Your doors and phone key").click()
    expect(page.get_by_role("link", name="Give your consent")).to_be_visible()
    expect(page.get_by_role("button", name="Use this browser as your phone key")).to_have_count(0)
    check_page(page)
    shoot(page, "consent needed")
    page.get_by_role("link", name="Give your consent").click()
    page.get_by_role("button", name="Give my consent").click()
    expect(page.get_by_text("Your consent is recorded.")).to_be_visible()
    check_page(page)
    shoot(page, "consent given")
    page.get_by_role("link", name="Keyturn").click()
    page.get_by_role("link", name="Your doors and phone key").click()
    expect(page.get_by_role("heading", name="Your doors")).to_be_visible()


def enrol(page: Page) -> None:
    """Only a 32-byte public key leaves the browser; the private key is not extractable."""
    with page.expect_request(
        lambda r: r.method == "POST" and urlsplit(r.url).path.endswith("/phones")
    ) as enrolled:
        page.get_by_role("button", name="Use this browser as your phone key").click()
    body = enrol_request_body(enrolled.value)
    assert set(body) == {"public_key"}
    raw = base64.urlsafe_b64decode(body["public_key"] + "=" * (-len(body["public_key"]) % 4))
    assert len(raw) == 32
    expect(page.get_by_role("button", name=f"Unlock {DOOR}")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Keys fresh, valid until"))).to_be_visible()
    kept = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const opened = indexedDB.open("keyturn-phone");
            opened.onerror = () => reject(opened.error);
            opened.onsuccess = () => {
                const get = opened.result.transaction("phones").objectStore("phones")
                    .get(document.querySelector("[data-phone]").dataset.propertyId);
                get.onsuccess = () => resolve({
                    extractable: get.result.keyPair.privateKey.extractable,
                    algorithm: get.result.keyPair.privateKey.algorithm.name,
                });
            };
        })"""
    )
    assert kept == {"extractable": False, "algorithm": "Ed25519"}


def unlock(page: Page, site: PortalSite) -> None:
    """The lock's own decision: granted to a mobile key, and in its journal."""
    journal = site.locks[DOOR].journal
    before = journal.last_seq
    page.get_by_role("button", name=f"Unlock {DOOR}").click()
    expect(page.get_by_text(f"{DOOR} is unlocked.")).to_be_visible()
    assert journal.last_seq == before + 1
    (entry,) = journal.entries(journal.last_seq)
    assert (entry.credential_type, entry.reason) == (CredentialType.MOBILE_KEY, Reason.GRANTED)


def test_an_invited_resident_consents_enrols_and_unlocks_home_online_then_offline(
    chromium: Browser, site: PortalSite, request: pytest.FixtureRequest
) -> None:
    move_in_by_email(site)
    site.install_lock(DOOR)
    near_field = NearField(site.locks[DOOR]).start()
    try:
        site.sync_all(DOOR)  # the lock learns 4B's key, the cloud where the lock listens
        with open_page(chromium, site, request.node.name, viewport=PHONE) as page:
            accept_the_invitation(page, site)
            consent_then_open_the_doors_page(page, site)
            enrol(page)
            check_page(page)  # before any request to the lock, which is another origin
            unlock(page, site)
            shoot(page, "unlocked online")
            keep_for_offline(page)

            live_server.stop(site.server)
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{site.url}/api/v1/health", timeout=2)
            page.reload()
            expect(page.get_by_role("button", name=f"Unlock {DOOR}")).to_be_visible()
            expect(
                page.get_by_text(re.compile(r"Offline, but your keys stay valid until"))
            ).to_be_visible()
            unlock(page, site)
            shoot(page, "unlocked offline")

            site.server = live_server.start_again(site.server)
            site.sync_all(DOOR)
            page.goto(f"/app/properties/{site.world.property_id}/history")
            mine = page.locator("li.entry").filter(has_text=RESIDENT.name)
            expect(mine.filter(has_text=f"Opened · {DOOR}")).to_have_count(2)
            expect(mine.filter(has_text="phone key")).to_have_count(2)
            check_page(page, locks=[near_field.url])
            shoot(page, "history")
    finally:
        near_field.stop()

    with session_factory(site.engine)() as session:
        ada = session.scalars(select(Person.id).where(Person.email == RESIDENT.email)).one()
        device = session.scalars(
            select(Device).where(Device.door_id == site.world.door_id(DOOR))
        ).one()
        assert device.near_field_url == near_field.url
        entries = session.scalars(
            select(Event).where(
                Event.device_id == device.id, Event.credential_type == CredentialType.MOBILE_KEY
            )
        ).all()
    assert [(entry.reason, entry.subject_id) for entry in entries] == [(Reason.GRANTED, ada)] * 2
