"""Every page of the resident and guest app (issue 14), walked on a phone-sized screen in
Debian's Chromium against a real `keyturn serve`, on SQLite and PostgreSQL: from the app's
home, every /app page three links deep answers 200 and meets check_page (axe: no critical or
serious violation; nothing from another origin; no raw id on screen), a screenshot each.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from browser import Login, PortalSite, add_resident, open_page, sign_in_to_app, walk
from playwright.sync_api import Browser, Page

from factories import MASTER_KEY, PASSWORD, give_key, make_member, record_event, record_photo
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import Door, GrantKind, Key, Person, RequestKind
from keyturn.cloud.privacy import requests as workflow
from keyturn.cloud.sessions import session_factory
from keyturn.rules.types import CredentialType, Reason, Role
from keyturn.settings import PHOTO_DIR

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
RESIDENT = Login("Ada Park", "ada@example.test", PASSWORD)
GUEST = Login("Noor Hale", "noor@example.test", PASSWORD)
CRAWL_LIMIT = 40
# Not pages: files, the photo bytes, the service worker, and links that sign out.
NOT_PAGES = ("/sign-out", "/photos/", "/static/", ".webmanifest", "sw.js", ".zip")


def _seed_resident_and_guest(site: PortalSite) -> None:
    """Ada lives in 4B (the unit key with resident status, and the gym key) and has invited
    Noor as a guest on the unit key; at 4B's door Noor came in and a wrong code was
    photographed, so the history and its photo link have something to show; Ada has asked for
    a copy of her data, so her privacy page lists a request."""
    world = site.world
    now = utcnow()
    with session_factory(site.engine)() as session:
        ada_id = add_resident(
            session, world, RESIDENT, key_id=world.unit_key_id, now=now, resident=True
        )
    with session_factory(site.engine)() as session, session.begin():
        ada = session.get_one(Person, ada_id)
        unit_key = session.get_one(Key, world.unit_key_id)
        give_key(
            session,
            key=session.get_one(Key, world.gym_key_id),
            person_id=ada.id,
            starts_at=now - timedelta(days=3),
        )
        noor = make_member(
            session,
            email=GUEST.email,
            name=GUEST.name,
            password=GUEST.password,
            property_id=world.property_id,
            role=Role.GUEST,
            now=now,
        )
        grant = give_key(
            session,
            key=unit_key,
            person_id=noor.id,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=6),
            by=ada.id,
            kind=GrantKind.GUEST,
        )
        home = session.get_one(Door, world.door_id("4B door"))
        record_event(
            session,
            door=home,
            occurred_at=now - timedelta(hours=2),
            subject_id=noor.id,
            granted_by=ada.id,
            grant_id=grant.id,
        )
        wrong = record_event(
            session,
            door=home,
            occurred_at=now - timedelta(hours=1),
            credential_type=CredentialType.PERSONAL_DOORCODE,
            reason=Reason.UNKNOWN_CREDENTIAL,
        )
        record_photo(session, photo_dir=site.folder / "server" / PHOTO_DIR, event=wrong)
        workflow.file_request(
            session=session,
            master_key=MASTER_KEY,
            person_id=ada.id,
            kind=RequestKind.COPY,
            now=now,
        )


def walk_app(page: Page, property_id: str) -> dict[str, int]:
    """Every /app page three links deep from the app's home (browser.walk)."""
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}")

    def shot_name(path: str) -> str:
        named = path.removeprefix("/app/").replace(property_id, "property")
        return ids.sub("id", named).replace("/", " ") or "home"

    return walk(
        page, ["/app/"], within="/app/", not_pages=NOT_PAGES, limit=CRAWL_LIMIT, shot_name=shot_name
    )


def _property_pages(seen: dict[str, int], property_id: str) -> set[str]:
    base = f"/app/properties/{property_id}"
    return {path.removeprefix(base) for path in seen if path.startswith(base)}


def test_every_app_page_a_resident_reaches_answers_named_and_accessible_on_a_phone(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> None:
    _seed_resident_and_guest(portal_site)
    with open_page(chromium, portal_site, request.node.name, viewport=PHONE) as page:
        sign_in_to_app(page, RESIDENT)
        seen = walk_app(page, portal_site.world.property_id)
    pages = _property_pages(seen, portal_site.world.property_id)
    expected = {"/phone", "/sharing", "/history", "/privacy", "/privacy/copy", "/privacy/deletion"}
    assert expected <= pages, f"not reached: {expected - pages}"
    assert "/privacy/consent" in pages
    assert any(page.startswith("/privacy/requests/") for page in pages)
    assert len(seen) >= 8


def test_every_app_page_a_guest_reaches_answers_named_and_accessible_on_a_phone(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> None:
    _seed_resident_and_guest(portal_site)
    with open_page(chromium, portal_site, request.node.name, viewport=PHONE) as page:
        sign_in_to_app(page, GUEST)
        seen = walk_app(page, portal_site.world.property_id)
    pages = _property_pages(seen, portal_site.world.property_id)
    assert {"/phone", "/history", "/privacy"} <= pages, f"reached only {sorted(pages)}"
    assert "/sharing" not in pages  # a guest shares nothing
    assert len(seen) >= 4
