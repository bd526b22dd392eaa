"""The browser is the phone (issue 14), in Debian's Chromium against a real `keyturn serve`
and a reference lock whose near-field service listens on loopback, on SQLite and PostgreSQL:
a resident enrols this browser (only a 32-byte public key leaves it, the private key is not
extractable), unlocks the gym through the lock, then unlocks it again with the server
stopped, from the service worker's copy of the page and the cached mobile key; once the
server is back the lock syncs and both entries are in the cloud.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from browser import (
    WAIT_MS,
    Login,
    PortalSite,
    check_page,
    make_portal_world,
    open_page,
    shoot,
)
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy import Engine, select

import live_server
from factories import PASSWORD, give_key, make_member
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import Device, Event, Key
from keyturn.cloud.sessions import session_factory
from keyturn.lock.near_field import NearField
from keyturn.lock.sync import HttpTransport, sync_once
from keyturn.rules.types import CredentialType, Reason, Role
from smtp_server import Mailbox

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
RESIDENT = Login("Ada Park", "ada@example.test", PASSWORD)
DOOR = "Gym"


@pytest.fixture
def site(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[PortalSite]:
    """The portal's building, a resident with a login and the gym key, a served cloud."""
    now = utcnow()
    with session_factory(engine)() as session:
        world = make_portal_world(session, now=now)
        resident = make_member(
            session,
            email=RESIDENT.email,
            name=RESIDENT.name,
            password=RESIDENT.password,
            property_id=world.property_id,
            role=Role.RESIDENT,
            unit_id=world.unit_id,
            now=now,
        )
        give_key(
            session,
            key=session.get_one(Key, world.gym_key_id),
            person_id=resident.id,
            starts_at=now - timedelta(days=1),
        )
        session.commit()
    server = live_server.start(db_url, tmp_path / "server")
    opened = PortalSite(server, world, Mailbox(), engine, tmp_path)
    try:
        yield opened
    finally:
        live_server.stop(opened.server)
        opened.close()


def sync_all(site: PortalSite) -> None:
    """Sync the gym's lock until its journal is all in the cloud."""
    lock = site.locks[DOOR]
    transport = HttpTransport(site.url, timeout_s=10.0)
    try:
        for _ in range(10):
            if lock.journal.last_seq <= sync_once(lock, transport).journal_floor:
                return
    finally:
        transport.close()
    raise AssertionError("the lock's journal did not drain")


def enrol_request_body(request: Request) -> dict[str, str]:
    body = request.post_data_json
    assert isinstance(body, dict)
    return body


def sign_in_to_app(page: Page) -> None:
    page.goto("/portal/sign-in?next=/app/")
    page.get_by_label("Email").fill(RESIDENT.email)
    page.get_by_label("Password").fill(RESIDENT.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/app/$"))


def unlock(page: Page, lock_journal_before: int, site: PortalSite) -> None:
    page.get_by_role("button", name=f"Unlock {DOOR}").click()
    expect(page.get_by_text(f"{DOOR} is unlocked.")).to_be_visible()
    journal = site.locks[DOOR].journal
    assert journal.last_seq == lock_journal_before + 1
    (entry,) = journal.entries(journal.last_seq)
    assert (entry.credential_type, entry.reason) == (CredentialType.MOBILE_KEY, Reason.GRANTED)


def test_a_resident_unlocks_with_this_browser_online_then_offline(
    chromium: Browser, site: PortalSite, db_url: str, request: pytest.FixtureRequest
) -> None:
    lock = site.install_lock(DOOR)
    near_field = NearField(lock).start()
    try:
        sync_all(site)  # the cloud learns where the lock listens
        with open_page(chromium, site, request.node.name, viewport=PHONE) as page:
            sign_in_to_app(page)
            page.goto(f"/app/properties/{site.world.property_id}/phone")
            expect(page.get_by_role("heading", name="Your doors")).to_be_visible()

            with page.expect_request(
                lambda r: r.method == "POST" and urlsplit(r.url).path.endswith("/phones")
            ) as enrolled:
                page.get_by_role("button", name="Use this browser as your phone key").click()
            body = enrol_request_body(enrolled.value)
            assert set(body) == {"public_key"}
            raw = base64.urlsafe_b64decode(
                body["public_key"] + "=" * (-len(body["public_key"]) % 4)
            )
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
            check_page(page)  # before any request to the lock, which is another origin

            unlock(page, lock.journal.last_seq, site)
            shoot(page, "unlocked online")
            page.wait_for_function(
                """async () => navigator.serviceWorker.controller !== null
                    && (await caches.match(location.pathname)) !== undefined""",
                timeout=WAIT_MS,
            )

            origin = site.url
            port = urlsplit(origin).port
            live_server.stop(site.server)
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{origin}/api/v1/health", timeout=2)

            page.reload()
            expect(page.get_by_role("button", name=f"Unlock {DOOR}")).to_be_visible()
            expect(
                page.get_by_text(re.compile(r"Offline, but your keys stay valid until"))
            ).to_be_visible()
            unlock(page, lock.journal.last_seq, site)
            shoot(page, "unlocked offline")

            site.server = live_server.start(db_url, site.folder / "server", port=port)
        sync_all(site)
    finally:
        near_field.stop()

    with session_factory(site.engine)() as session:
        device = session.scalars(
            select(Device).where(Device.door_id == site.world.door_id(DOOR))
        ).one()
        assert device.near_field_url == near_field.url
        entries = session.scalars(
            select(Event).where(
                Event.device_id == device.id, Event.credential_type == CredentialType.MOBILE_KEY
            )
        ).all()
    assert [entry.reason for entry in entries] == [Reason.GRANTED, Reason.GRANTED]
    assert all(entry.subject_id is not None for entry in entries)
