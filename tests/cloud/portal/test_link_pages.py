"""The pages emailed links land on: password reset and invitation, end to end from the
outbox to signing in through /portal/sign-in, which takes a manager to the portal and anyone
else to the app; and a data request's copy downloaded once."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, PASSWORD, Clock, make_person
from keyturn.cloud.auth import links
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.models import DataSubjectRequest, OutboxMessage, RequestKind, RequestState
from keyturn.cloud.privacy import requests
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


# The copy a data request asked for (D1) ---------------------------------------------------------


def _copy_link_mailed(db: Session, site: Site, clock: Clock, tmp_path: Path) -> str:
    """A copy asked for by email, filed and approved by a reviewer: the link's token."""
    filed = requests.file_for_requester(
        session=db,
        property_id=site.property_id,
        reviewer_id=site.person("portfolio_manager"),
        kind=RequestKind.COPY,
        channel=requests.ReviewerChannel.EMAIL,
        requester_name="Resident",
        requester_email="copy-to@example.org",
        requester_phone=None,
        person_id=site.person("resident"),
        received_at=None,
        note=None,
        now=clock(),
    )
    requests.approve_request(
        session=db,
        master_key=MASTER_KEY,
        photo_dir=tmp_path,
        config=AuthConfig(),
        request_id=filed.id,
        reviewer_id=site.person("portfolio_manager"),
        now=clock(),
    )
    db.commit()
    return _link(db, "copy-to@example.org", "/data-copy")


def test_d1_the_data_copy_link_lands_on_a_page_that_downloads_the_zip_once(
    portal: Portal, db: Session, site: Site, clock: Clock, tmp_path: Path
) -> None:
    token = _copy_link_mailed(db, site, clock, tmp_path)
    client = portal.anonymous()

    form = client.get("/data-copy")
    empty = client.post("/data-copy", data={"token": ""})
    copy = client.post("/data-copy", data={"token": token})
    again = client.post("/data-copy", data={"token": token})

    assert form.status_code == 200
    assert "data-token-from-fragment" in form.text
    assert 'action="/data-copy"' in form.text
    assert form.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in form.headers["content-security-policy"]
    assert "<script>" not in form.text
    assert empty.status_code == 422
    assert "Paste the code from the link" in empty.text
    assert copy.status_code == 200
    assert copy.headers["content-type"] == "application/zip"
    assert copy.headers["content-disposition"].startswith("attachment;")
    assert copy.headers["cache-control"] == "no-store"
    contact = zipfile.ZipFile(io.BytesIO(copy.content)).read("contact.json").decode()
    assert "resident@example.org" in contact
    assert again.status_code == 400
    assert again.headers["content-type"].startswith("text/html")
    assert "This link has expired or was already used" in again.text
    assert "ask the building that holds your data for a new copy" in again.text
    db.expire_all()
    [row] = db.scalars(select(DataSubjectRequest)).all()
    assert (row.state, row.response) == (RequestState.COMPLETED, "copy delivered")


def test_an_expired_data_copy_link_answers_the_clear_page_and_changes_nothing(
    portal: Portal, db: Session, site: Site, clock: Clock, tmp_path: Path
) -> None:
    token = _copy_link_mailed(db, site, clock, tmp_path)
    clock.advance(days=8)

    late = portal.anonymous().post("/data-copy", data={"token": token})

    assert late.status_code == 400
    assert "This link has expired or was already used" in late.text
    db.expire_all()
    [row] = db.scalars(select(DataSubjectRequest)).all()
    assert row.state == RequestState.IN_PROGRESS


def test_rule_d7_a_copy_link_of_a_request_on_hold_answers_a_page_and_works_once_released(
    portal: Portal, db: Session, site: Site, clock: Clock, tmp_path: Path
) -> None:
    token = _copy_link_mailed(db, site, clock, tmp_path)
    [row] = db.scalars(select(DataSubjectRequest)).all()
    reviewer = site.person("portfolio_manager")
    requests.hold_request(
        session=db,
        request_id=row.id,
        reason="fraud investigation",
        reviewer_id=reviewer,
        now=clock(),
    )
    db.commit()
    client = portal.anonymous()

    held = client.post("/data-copy", data={"token": token})
    requests.release_request(session=db, request_id=row.id, reviewer_id=reviewer, now=clock())
    db.commit()
    released = client.post("/data-copy", data={"token": token})

    assert held.status_code == 409
    assert held.headers["content-type"].startswith("text/html")
    assert "Your copy cannot be downloaded now" in held.text
    assert released.status_code == 200
    assert released.headers["content-type"] == "application/zip"
