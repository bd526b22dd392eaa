"""The account page: who the caller is, and enrolling and removing an authenticator (TOTP)
over the auth service's begin_totp / confirm_totp / remove_totp."""

from __future__ import annotations

import base64
import html
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import PASSWORD, Clock, make_member
from keyturn.cloud.auth.totp import code_at
from keyturn.cloud.models import Account
from keyturn.rules.types import Role
from portal_pages import Portal, assert_no_raw_ids
from worlds import Site

EMAIL = "dana@example.org"


def _dana(db: Session, site: Site) -> str:
    person = make_member(
        db,
        email=EMAIL,
        property_id=site.property_id,
        role=Role.PROPERTY_MANAGER,
        name="Dana Whitfield",
        password=PASSWORD,
    )
    db.commit()
    return person.id


def _secret(page: str) -> bytes:
    found = re.search(r'<p class="secret">([A-Z2-7 ]+)</p>', page)
    assert found is not None
    typed = found.group(1).replace(" ", "")
    return base64.b32decode(typed + "=" * (-len(typed) % 8))


def _totp_on(db: Session, person_id: str) -> bool:
    db.expire_all()
    account = db.scalars(select(Account).where(Account.person_id == person_id)).one()
    return account.totp_secret_sealed is not None


def test_the_account_page_shows_name_email_and_that_totp_is_off(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(_dana(db, site))

    page = browser.get("/portal/account")

    assert page.status_code == 200
    assert "Dana Whitfield" in page.text
    assert EMAIL in page.text
    assert "Set up an authenticator" in page.text
    assert_no_raw_ids(page.text)


def test_enrolling_an_authenticator_end_to_end_and_signing_in_with_its_code(
    portal: Portal, db: Session, site: Site, clock: Clock
) -> None:
    person_id = _dana(db, site)
    browser = portal.as_person(person_id)

    started = browser.post("/portal/account/totp")
    secret = _secret(started.text)
    wrong = browser.post("/portal/account/totp/confirm", {"code": "000000"})
    assert wrong.status_code == 400
    assert "not correct" in wrong.text
    assert not _totp_on(db, person_id)

    started = browser.post("/portal/account/totp")
    secret = _secret(started.text)
    assert started.status_code == 200
    assert "<svg" in started.text  # the QR code, drawn on the server
    assert "otpauth://totp/" in html.unescape(started.text)
    assert started.headers["cache-control"] == "no-store"
    confirmed = browser.post(
        "/portal/account/totp/confirm", {"code": code_at(secret, clock())}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    shown = browser.get(confirmed.headers["location"])
    assert "Your authenticator is set up" in shown.text
    assert "Remove the authenticator" in shown.text
    assert _totp_on(db, person_id)

    # Signing in through the form now asks for the code, and takes it.
    client = portal.anonymous()
    client.get("/portal/sign-in")
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": client.cookies["keyturn_signin"]}
    asked = client.post("/portal/sign-in", data=form, follow_redirects=False)
    clock.advance(seconds=30)
    signed = client.post(
        "/portal/sign-in",
        data={**form, "totp_code": code_at(secret, clock())},
        follow_redirects=False,
    )
    assert asked.status_code == 401
    assert "authenticator" in asked.text
    assert signed.status_code == 303

    clock.advance(seconds=30)
    removed = browser.post(
        "/portal/account/totp/remove", {"code": code_at(secret, clock())}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert not _totp_on(db, person_id)


def test_a_second_enrolment_while_one_is_on_is_refused(
    portal: Portal, db: Session, site: Site, clock: Clock
) -> None:
    person_id = _dana(db, site)
    browser = portal.as_person(person_id)
    secret = _secret(browser.post("/portal/account/totp").text)
    browser.post("/portal/account/totp/confirm", {"code": code_at(secret, clock())})

    again = browser.post("/portal/account/totp")
    wrong_removal = browser.post("/portal/account/totp/remove", {"code": "12"})

    assert again.status_code == 409
    assert wrong_removal.status_code == 400
    assert _totp_on(db, person_id)


def test_the_account_page_needs_a_session(portal: Portal) -> None:
    client = portal.anonymous()

    page = client.get("/portal/account", follow_redirects=False)
    forged = client.post("/portal/account/totp", follow_redirects=False)

    assert page.status_code == 303
    assert page.headers["location"].startswith("/portal/sign-in")
    assert forged.status_code in (303, 401, 403)
