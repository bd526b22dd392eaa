"""My privacy in the app: consent given and withdrawn, a copy asked for, verified with the
mailed code and downloaded as a zip, a deletion that first lists what stands in its way (D4),
and the public form's code entered on its page."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.models import DataSubjectRequest, Person, Profile, RequestState
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site, mails_to


def _privacy(site: Site) -> str:
    return f"/app/properties/{site.property_id}/privacy"


def _code(db: Session, address: str) -> str:
    found = [
        m.group(1)
        for mail in mails_to(db, address)
        if (m := re.search(r"code (?:is )?(\d{6,})", mail.body_text))
    ]
    return found[-1]


def test_d4_a_deletion_while_access_is_active_lists_what_must_go_first(
    browsers: Portal, db: Session, site: Site
) -> None:
    browser = browsers.as_person(site.person("resident"))
    page = browser.get(f"{_privacy(site)}/deletion")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Before your data can be deleted" in text
    assert "Residents 4B" in text
    assert_no_raw_ids(page.text)
    filed = browser.post(f"{_privacy(site)}/deletion", follow_redirects=False)
    assert filed.status_code == 303
    request_url = filed.headers["location"].split("?")[0]
    person = db.get_one(Person, site.person("resident"))
    verified = browser.post(
        f"{request_url}/verify",
        {
            "code": _code(db, "resident@example.org"),
            "email": person.email,
            "display_name": person.display_name,
        },
        follow_redirects=False,
    )
    assert verified.status_code == 303, verified.text
    shown = browser.get(request_url)
    assert "Waiting: access still to be removed" in shown.text
    assert "Residents 4B" in visible_text(shown.text)
    assert_no_raw_ids(shown.text)


def test_d1_a_copy_is_asked_verified_and_downloaded_as_a_zip(
    browsers: Portal, db: Session, site: Site
) -> None:
    browser = browsers.as_person(site.person("resident"))
    filed = browser.post(f"{_privacy(site)}/copy", follow_redirects=False)
    assert filed.status_code == 303
    request_url = filed.headers["location"].split("?")[0]
    waiting = browser.get(request_url)
    assert "Enter the code we emailed" in waiting.text
    assert_no_raw_ids(waiting.text)
    person = db.get_one(Person, site.person("resident"))
    wrong = browser.post(
        f"{request_url}/verify", {"code": "", "email": person.email, "display_name": "x"}
    )
    assert wrong.status_code == 422
    assert "Type the code from the email." in wrong.text
    verified = browser.post(
        f"{request_url}/verify",
        {
            "code": _code(db, "resident@example.org"),
            "email": person.email,
            "display_name": person.display_name,
        },
        follow_redirects=False,
    )
    assert verified.status_code == 303, verified.text
    ready = browser.get(request_url)
    assert "Your copy is ready" in ready.text
    copy = browser.post(f"{request_url}/copy")
    assert copy.status_code == 200
    assert copy.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(copy.content)).namelist()
    db.expire_all()
    [row] = db.scalars(select(DataSubjectRequest)).all()
    assert row.state == RequestState.COMPLETED
    listing = browser.get(_privacy(site))
    assert "Completed" in listing.text
    assert_no_raw_ids(listing.text)


def test_another_persons_request_is_not_found(browsers: Portal, site: Site) -> None:
    mine = browsers.as_person(site.person("resident")).post(
        f"{_privacy(site)}/copy", follow_redirects=False
    )
    request_url = mine.headers["location"].split("?")[0]
    other = browsers.as_person(site.person("staff")).get(request_url)
    assert other.status_code == 404


def test_r5_consent_given_and_withdrawn_round_trip(
    browsers: Portal, db: Session, site: Site
) -> None:
    browser = browsers.as_person(site.person("resident"))
    page = browser.get(f"{_privacy(site)}/consent")
    assert page.status_code == 200
    assert "Not given" in page.text
    assert_no_raw_ids(page.text)
    given = browser.post(f"{_privacy(site)}/consent", follow_redirects=False)
    assert given.status_code == 303
    after = browser.get(given.headers["location"])
    assert "Your consent is recorded." in after.text
    assert "Given" in visible_text(after.text)
    db.expire_all()
    profiles = db.scalars(select(Profile).where(Profile.person_id == site.person("resident"))).all()
    assert any(p.nyc_consent_at is not None for p in profiles)
    withdrawn = browser.post(f"{_privacy(site)}/consent/withdraw", follow_redirects=False)
    assert withdrawn.status_code == 303
    db.expire_all()
    profiles = db.scalars(select(Profile).where(Profile.person_id == site.person("resident"))).all()
    assert all(p.nyc_consent_at is None for p in profiles)
    assert "Not given" in browser.get(f"{_privacy(site)}/consent").text


def test_the_public_forms_mailed_code_is_entered_on_its_page(
    browsers: Portal, db: Session, site: Site
) -> None:
    client = browsers.anonymous()
    sent = client.post(
        "/api/v1/data-requests/public",
        json={
            "email": "someone@example.org",
            "name": "Some One",
            "kind": "copy",
            "property": "12 Elm St",
        },
    )
    assert sent.status_code == 202, sent.text
    [mail] = mails_to(db, "someone@example.org")
    link = re.search(r"https?://\S+(/app/data-requests/\S+/confirm)", mail.body_text)
    assert link is not None, mail.body_text
    form = client.get(link.group(1))
    assert form.status_code == 200
    assert 'name="code"' in form.text
    bad = client.post(link.group(1), data={"code": "00000000"})
    assert bad.status_code == 422
    code = re.search(r"code (\d+)", mail.body_text)
    assert code is not None
    done = client.post(link.group(1), data={"code": code.group(1)})
    assert done.status_code == 200, done.text
    assert "Your request is confirmed" in done.text
    assert_no_raw_ids(done.text)
