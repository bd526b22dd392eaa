"""A resident's history and privacy in the app (issue 14), in Debian's Chromium against a real
`keyturn serve` with reference locks syncing over HTTP and mail read from a real SMTP server,
on SQLite and PostgreSQL: the history at my door names my guest and never shows another
unit's entries or photos (V1, V2, P4); a deletion asked while I still have access lists what
must go first (D4); a copy is verified with the mailed code and downloads as a zip (D1); and
the one-time link mailed for a copy filed by a reviewer lands on a page that downloads it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import timedelta

import pytest
from browser import Login, PortalSite, add_resident, check_page, open_page, shoot, text_of
from playwright.sync_api import Browser, Dialog, Page, expect
from sqlalchemy import select

from factories import MASTER_KEY, PASSWORD, give_key, give_keycard, make_key, token_for
from keyturn.cloud.access.sharing import service as sharing
from keyturn.cloud.access.sharing.schemas import GuestInvite
from keyturn.cloud.auth import service as auth_service
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import Door, Event, Person, RequestKind
from keyturn.cloud.privacy import requests as workflow
from keyturn.cloud.sessions import session_factory
from keyturn.settings import PHOTO_DIR

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
RESIDENT = Login("Ada Park", "ada@example.test", PASSWORD)
GUEST = Login("Noor Hale", "noor@example.test")
WRONG_CODE = "918273"
GUEST_CARD = "04A1B2C3"
NEIGHBOUR_CARD = "04FFEE01"
MAILED_CODE = re.compile(r"code (?:is )?(\d{6,})")
COPY_LINK = re.compile(r"(/data-copy#token=\S+)")


@dataclass(frozen=True)
class Doors:
    """4B's door (Ada's home) and 5C's (Sam's), each with a lock that has synced its entries."""

    home_id: str
    other_id: str


def _seed_two_homes(site: PortalSite) -> Doors:
    """Ada lives in 4B (resident status) and invites a guest, who holds a card; Sam lives in 5C
    with a card. Locks at both doors: each door's resident side opens for a card, a wrong code
    is tried at each (a residence door photographs it, P2), and both locks sync it all up."""
    world = site.world
    now = utcnow()
    with session_factory(site.engine)() as session:
        ada_id = add_resident(
            session, world, RESIDENT, key_id=world.unit_key_id, now=now, resident=True
        )
    with session_factory(site.engine)() as session, session.begin():
        doors = {
            door.name: door
            for door in session.scalars(select(Door).where(Door.property_id == world.property_id))
        }
        world.door_names[doors["5C door"].id] = "5C door"
        ada = session.get_one(Person, ada_id)
        # Invited a while ago: a guest whose key starts this very second may meet a lock
        # that counts from the next whole second.
        invited_at = now - timedelta(minutes=10)
        principal = auth_service.principal_from_token(
            session=session, secret=token_for(session, ada.id, now=invited_at), now=invited_at
        )
        guest = sharing.invite_guest(
            session=session,
            config=AuthConfig(),
            principal=principal,
            property_id=world.property_id,
            invite=GuestInvite(
                email=GUEST.email,
                display_name=GUEST.name,
                key_id=world.unit_key_id,
                starts_at=invited_at,
                ends_at=invited_at + timedelta(days=7),
            ),
            now=invited_at,
        )
        give_keycard(
            session, property_id=world.property_id, person_id=guest.person_id, card_uid=GUEST_CARD
        )
        other_key = make_key(
            session, property_id=world.property_id, name="Home 5C", door_ids=[doors["5C door"].id]
        )
        give_key(
            session,
            key=other_key,
            person_id=world.neighbour_id,
            starts_at=now - timedelta(days=3),
            resident=True,
        )
        give_keycard(
            session,
            property_id=world.property_id,
            person_id=world.neighbour_id,
            card_uid=NEIGHBOUR_CARD,
        )
    for door, card in (("4B door", GUEST_CARD), ("5C door", NEIGHBOUR_CARD)):
        lock = site.install_lock(door)
        site.sync(door)
        assert lock.present_card(card).granted, f"{door}: the card was refused"
        assert lock.enter_code(WRONG_CODE).photo_id is not None, f"{door}: no photo"
        site.sync(door)
    return Doors(home_id=doors["4B door"].id, other_id=doors["5C door"].id)


def _photographed_event(site: PortalSite, door_id: str) -> str:
    with session_factory(site.engine)() as session:
        return session.scalars(
            select(Event.id).where(Event.door_id == door_id, Event.photo_id.is_not(None))
        ).one()


def sign_in_to_app(page: Page, login: Login) -> None:
    page.goto("/portal/sign-in?next=/app/")
    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/app/$"))


def test_rule_v1_v2_p4_my_history_names_my_guest_and_hides_the_other_unit(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> None:
    doors = _seed_two_homes(portal_site)
    other_photo = _photographed_event(portal_site, doors.other_id)
    base = f"/app/properties/{portal_site.world.property_id}"
    with open_page(chromium, portal_site, request.node.name, viewport=PHONE) as page:
        sign_in_to_app(page, RESIDENT)
        page.goto(f"{base}/history")
        entries = page.locator("li.entry")
        guest_entry = entries.filter(has_text=GUEST.name)
        expect(guest_entry).to_have_count(1)
        expect(guest_entry).to_contain_text("4B door")
        expect(guest_entry.locator(".badge")).to_have_text("your guest")
        expect(guest_entry).to_contain_text("keycard")
        refused = entries.filter(has_text="Someone unknown").filter(has_text="4B door")
        expect(refused).to_have_count(1)
        # V1/V2: nothing at 5C's door, not Sam's entry nor the wrong code there.
        expect(page.get_by_text("5C door")).to_have_count(0)
        expect(page.get_by_text("Sam Ortiz")).to_have_count(0)
        check_page(page)
        shoot(page, "history")

        # P4: the photo at my door is mine to see; the one at 5C's door is refused.
        mine = refused.get_by_role("link", name="See the photo")
        answer = page.request.get(str(mine.get_attribute("href")))
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("image/")
        theirs = page.request.get(f"{base}/history/photos/{other_photo}")
        assert theirs.status in (403, 404)
        assert not theirs.headers["content-type"].startswith("image/")
        shown = page.goto(f"{base}/history/photos/{other_photo}")
        assert shown is not None
        assert shown.status in (403, 404)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        check_page(page)
        shoot(page, "other unit's photo refused")


def _confirm_dialogs(page: Page) -> list[str]:
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


def _verify_with_mailed_code(page: Page, site: PortalSite, seen: int) -> None:
    """On a request's page: the code from the newest mail to Ada, her address and name."""
    mail = site.mail_to(RESIDENT.email, after=seen, containing=MAILED_CODE)
    found = MAILED_CODE.search(text_of(mail))
    assert found is not None
    page.get_by_label("Code", exact=True).fill(found[1])
    page.get_by_label("Your account's email").fill(RESIDENT.email)
    page.get_by_label("Your name, as your account shows it").fill(RESIDENT.name)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text("Thank you: your request is verified.")


def test_rule_d4_d1_a_deletion_lists_its_blocker_and_a_copy_downloads_as_a_zip(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> None:
    _seed_two_homes(portal_site)
    privacy = f"/app/properties/{portal_site.world.property_id}/privacy"
    with open_page(chromium, portal_site, request.node.name, viewport=PHONE) as page:
        asked = _confirm_dialogs(page)
        sign_in_to_app(page, RESIDENT)

        # D4: while Ada holds her unit's key, a deletion waits and says why.
        page.goto(f"{privacy}/deletion")
        blockers = page.locator("section.notice").filter(
            has=page.get_by_role("heading", name="Before your data can be deleted")
        )
        expect(blockers.locator("ul.steps li")).to_contain_text(["Residents 4B"])
        check_page(page)
        shoot(page, "deletion form")
        seen = len(portal_site.mailbox.messages)
        page.get_by_role("button", name="Ask to delete my data").click()
        expect(page.get_by_role("heading", name="Deletion of my data", level=1)).to_be_visible()
        assert asked, "asking for deletion asked for no confirmation"
        _verify_with_mailed_code(page, portal_site, seen)
        expect(page.get_by_text("Waiting: access still to be removed")).to_be_visible()
        expect(page.locator("ul.steps li")).to_contain_text(["Residents 4B"])
        check_page(page)
        shoot(page, "deletion waiting")

        # D1: a copy, verified with the mailed code, downloads as a zip of Ada's data.
        page.goto(f"{privacy}/copy")
        check_page(page)
        seen = len(portal_site.mailbox.messages)
        page.get_by_role("button", name="Ask for a copy").click()
        _verify_with_mailed_code(page, portal_site, seen)
        expect(page.get_by_role("heading", name="Your copy is ready")).to_be_visible()
        check_page(page)
        shoot(page, "copy ready")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="Download the zip").click()
        download = downloading.value
        assert download.suggested_filename.endswith(".zip")
        copy = zipfile.ZipFile(io.BytesIO(download.path().read_bytes()))
        contact = json.loads(copy.read("contact.json"))
        assert RESIDENT.email in json.dumps(contact)
        assert "Residents 4B" in copy.read("permissions.json").decode()
        assert len(json.loads(copy.read("sharing.json"))["guests_invited"]) == 1  # Noor

        page.goto(privacy)
        expect(page.get_by_text("Completed").first).to_be_visible()
        check_page(page)
        shoot(page, "privacy after")


def test_rule_d1_the_mailed_copy_link_opens_a_page_that_downloads_once(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> None:
    """A copy Ada asked for by email, filed and approved by a reviewer: the mailed link lands
    on /data-copy, whose script takes the token from the fragment; the zip downloads once."""
    _seed_two_homes(portal_site)
    world = portal_site.world
    with session_factory(portal_site.engine)() as session, session.begin():
        reviewer_id = session.scalars(
            select(Person.id).where(Person.email == world.owner.email)
        ).one()
        filed_id = workflow.file_for_requester(
            session=session,
            property_id=world.property_id,
            reviewer_id=reviewer_id,
            kind=RequestKind.COPY,
            channel=workflow.ReviewerChannel.EMAIL,
            requester_name=RESIDENT.name,
            requester_email=RESIDENT.email,
            requester_phone=None,
            person_id=None,  # the portfolio's person with this address: Ada
            received_at=None,
            note=None,
            now=utcnow(),
        ).id
    seen = len(portal_site.mailbox.messages)
    with session_factory(portal_site.engine)() as session, session.begin():
        workflow.approve_request(
            session=session,
            master_key=MASTER_KEY,
            photo_dir=portal_site.folder / "server" / PHOTO_DIR,
            config=AuthConfig(public_url=portal_site.url),
            request_id=filed_id,
            reviewer_id=reviewer_id,
            now=utcnow(),
        )
    mail = portal_site.mail_to(RESIDENT.email, after=seen, containing=COPY_LINK)
    found = COPY_LINK.search(text_of(mail))
    assert found is not None
    link = found[1]

    with open_page(chromium, portal_site, request.node.name, viewport=PHONE) as page:
        page.goto(link)
        expect(page.get_by_role("heading", name="Download your data")).to_be_visible()
        expect(page.get_by_label("Code from the link in your email")).to_be_hidden()
        check_page(page)
        shoot(page, "data copy link")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="Download the zip").click()
        copy = zipfile.ZipFile(io.BytesIO(downloading.value.path().read_bytes()))
        assert RESIDENT.email in copy.read("contact.json").decode()

        page.goto(link)
        page.get_by_role("button", name="Download the zip").click()
        expect(
            page.get_by_role("heading", name="This link has expired or was already used")
        ).to_be_visible()
        check_page(page)
        shoot(page, "data copy link used")
