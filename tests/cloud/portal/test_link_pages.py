"""The pages emailed links land on: password reset and invitation, end to end from the
outbox to signing in through /portal/sign-in, which takes a manager to the portal and anyone
else to the app."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import PASSWORD, Clock, make_person
from keyturn.cloud.auth import links
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.models import OutboxMessage
from keyturn.rules.types import Role
from portal_pages import Portal
from worlds import Site

EMAIL = "erin@example.org"
NEW_PASSWORD = "a brand new passphrase"


def _link(db: Session, to: str, path: str) -> str:
    db.expire_all()
    bodies = db.scalars(
        select(OutboxMessage.body_text)
        .where(OutboxMessage.to_address == to)
        .order_by(OutboxMessage.created_at)
    ).all()
    found = re.search(rf"{path}#token=([A-Za-z0-9_-]+)", bodies[-1])
    assert found is not None
    return found.group(1)


def _signing_in(client: TestClient, email: str, password: str, next_path: str = "") -> Response:
    """The sign-in form's answer, as the page the links' "Sign in" opens sends it."""
    client.get("/portal/sign-in")
    return client.post(
        "/portal/sign-in",
        data={
            "email": email,
            "password": password,
            "csrf_token": client.cookies["keyturn_signin"],
            "next": next_path,
        },
        follow_redirects=False,
    )


def _sign_in(client: TestClient, email: str, password: str) -> int:
    return _signing_in(client, email, password, "/portal/").status_code


def test_the_reset_page_has_both_forms_and_the_token_field_js_fills(portal: Portal) -> None:
    page = portal.anonymous().get("/reset-password")

    assert page.status_code == 200
    assert "data-token-from-fragment" in page.text
    assert re.search(r'<div class="field">\s*<label for="token">', page.text)
    assert 'name="token"' in page.text
    assert 'for="password_repeat">Repeat password' in page.text
    assert 'action="/reset-password/request"' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_password_reset_end_to_end(portal: Portal, db: Session) -> None:
    make_person(db, email=EMAIL, password=PASSWORD)
    db.commit()
    client = portal.anonymous()

    asked = client.post("/reset-password/request", data={"email": EMAIL})
    unknown = client.post("/reset-password/request", data={"email": "nobody@example.org"})
    token = _link(db, EMAIL, "/reset-password")
    mismatch = client.post(
        "/reset-password",
        data={"token": token, "password": NEW_PASSWORD, "password_repeat": "something else"},
    )
    short = client.post(
        "/reset-password", data={"token": token, "password": "short", "password_repeat": "short"}
    )
    done = client.post(
        "/reset-password",
        data={"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
    )
    used = client.post(
        "/reset-password",
        data={"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
    )

    assert asked.status_code == unknown.status_code == 200
    assert "Check your email" in asked.text
    assert mismatch.status_code == 422
    assert "not the same" in mismatch.text
    assert short.status_code == 422
    assert "at least 10 characters" in short.text
    assert done.status_code == 200
    assert "Your password is set" in done.text
    assert 'href="/portal/sign-in"' in done.text
    assert used.status_code == 400
    assert "This link has expired or was already used" in used.text
    assert 'href="/reset-password"' in used.text
    assert _sign_in(portal.anonymous(), EMAIL, PASSWORD) == 401
    # Someone who manages nothing signs in to the app, not the portal.
    signed = _signing_in(portal.anonymous(), EMAIL, NEW_PASSWORD)
    assert (signed.status_code, signed.headers["location"]) == (303, "/app/")


def test_an_expired_reset_link_answers_the_clear_page(
    portal: Portal, db: Session, clock: Clock
) -> None:
    make_person(db, email=EMAIL, password=PASSWORD)
    db.commit()
    client = portal.anonymous()
    client.post("/reset-password/request", data={"email": EMAIL})
    token = _link(db, EMAIL, "/reset-password")
    clock.advance(days=2)

    late = client.post(
        "/reset-password",
        data={"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
    )

    assert late.status_code == 400
    assert "This link has expired or was already used" in late.text
    assert late.headers["content-type"].startswith("text/html")
    assert _sign_in(portal.anonymous(), EMAIL, PASSWORD) == 303


@pytest.mark.parametrize(
    ("role", "home"),
    [
        # Residents, guests and staff live in the app; managers work in the portal.
        (Role.RESIDENT, "/app/"),
        (Role.STAFF, "/app/"),
        (Role.PROPERTY_MANAGER, "/portal/"),
    ],
)
def test_invitation_accept_end_to_end(
    portal: Portal, db: Session, site: Site, clock: Clock, role: Role, home: str
) -> None:
    links.invite(
        session=db,
        config=AuthConfig(),
        inviter_id=site.person("portfolio_manager"),
        property_id=site.property_id,
        email="fern@example.org",
        display_name="Fern Ito",
        role=role,
        unit_id=site.other_unit_id if role == Role.RESIDENT else None,
        now=clock(),
    )
    db.commit()
    token = _link(db, "fern@example.org", "/invitation")
    client = portal.anonymous()

    form = client.get("/invitation")
    mismatch = client.post(
        "/invitation",
        data={"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD + "!"},
    )
    accepted = client.post(
        "/invitation",
        data={"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
    )
    again = client.post(
        "/invitation",
        data={"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
    )

    assert form.status_code == 200
    assert "data-token-from-fragment" in form.text
    assert mismatch.status_code == 422
    assert accepted.status_code == 200
    assert "Your account is ready" in accepted.text
    assert 'href="/portal/sign-in"' in accepted.text
    assert again.status_code == 400
    assert "This link has expired or was already used" in again.text
    signed = portal.anonymous()
    answer = _signing_in(signed, "fern@example.org", NEW_PASSWORD)
    assert (answer.status_code, answer.headers["location"]) == (303, home)
    assert "12 Elm St" in signed.get(home).text
