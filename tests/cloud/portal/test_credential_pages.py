"""The portal's page of a person's credentials: doorcodes emailed never shown, keycards, phones,
and the lost-phone suspension (A6), under the API's own actions."""

from __future__ import annotations

import base64
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, Clock
from keyturn.cloud.access.access_lists import build_access_list
from keyturn.cloud.models import Door, Doorcode, Keycard, Person, Profile
from keyturn.cloud.properties.service import door_secret_of
from keyturn.crypto.codes import code_mac
from keyturn.crypto.keys import SigningKeyPair
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site, mails_to, sync

CARD = "04A224B2C35E80"


def _page(site: Site, persona: str = "resident") -> str:
    return f"/portal/properties/{site.property_id}/people/{site.person(persona)}/credentials"


def _enrol_phone(client: TestClient, site: Site) -> str:
    key = SigningKeyPair.generate().public_bytes()
    enrolled = client.post(
        f"{site.url}/phones",
        json={"public_key": base64.urlsafe_b64encode(key).decode().rstrip("=")},
        headers=site.auth("resident"),
    )
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["id"])


def test_rule_a3_issuing_a_doorcode_emails_it_and_never_shows_it(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))
    before = browser.get(_page(site))

    issued = browser.post(_page(site) + "/doorcodes", {"door_id": site.home_id})

    assert before.status_code == 200
    assert 'for="door_id">Door</label>' in before.text
    assert ">Issue doorcode</button>" in before.text
    assert issued.status_code == 200
    assert "A new doorcode for 4B door was emailed to" in visible_text(issued.text)
    mail = mails_to(db, "resident@example.org")[-1]
    assert "4B door" in mail.body_text
    assert "12 Elm St" in mail.body_text
    code = re.findall(r"^  (\d{5,10})$", mail.body_text, flags=re.M)[0]
    row = db.scalars(select(Doorcode).where(Doorcode.door_id == site.home_id)).one()
    secret = door_secret_of(db.get_one(Door, site.home_id), MASTER_KEY)
    assert row.code_mac == code_mac(secret, code)
    assert code not in issued.text
    assert code not in mail.subject
    assert_no_raw_ids(issued.text)

    reset = browser.post(_page(site) + "/doorcodes", {"door_id": site.home_id})
    second = re.findall(r"^  (\d{5,10})$", mails_to(db, "resident@example.org")[-1].body_text, re.M)
    assert reset.status_code == 200
    assert second[0] not in reset.text
    assert len(db.scalars(select(Doorcode).where(Doorcode.revoked_at.is_(None))).all()) == 1


def test_a_person_without_email_gets_no_doorcode_and_the_page_says_why(
    portal: Portal, db: Session, site: Site
) -> None:
    db.get_one(Person, site.person("resident")).email = None
    db.commit()
    browser = portal.as_person(site.person("portfolio_manager"))

    page = browser.get(_page(site))
    refused = browser.post(_page(site) + "/doorcodes", {"door_id": site.home_id})

    assert "has no email address" in page.text
    assert "Issue doorcode" not in page.text
    assert refused.status_code == 409
    assert db.scalars(select(Doorcode)).all() == []


def test_a_door_not_chosen_is_asked_again_next_to_the_field(portal: Portal, site: Site) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))

    answer = browser.post(_page(site) + "/doorcodes", {"door_id": ""})

    assert answer.status_code == 422
    assert 'id="door_id-error">Choose a door.' in answer.text


def test_keycard_activate_and_deactivate_round_trip(
    portal: Portal, client: TestClient, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("pm_keys_full"))
    api = f"{site.url}/people/{site.person('resident')}/keycards"

    bad = browser.post(_page(site) + "/keycards", {"card_number": "not a card"})
    activated = browser.post(_page(site) + "/keycards", {"card_number": CARD.lower()})
    listed = client.get(api, headers=site.auth("pm_keys_full")).json()["items"]

    assert bad.status_code == 422
    assert 'id="card_number-error"' in bad.text
    assert activated.status_code == 200
    assert "The keycard is active" in activated.text
    assert "•••• 5E80" in visible_text(activated.text)
    assert CARD not in activated.text
    assert [(card["card_uid"], card["active"]) for card in listed] == [(CARD, True)]
    assert_no_raw_ids(activated.text)

    card_id = db.scalars(select(Keycard.id)).one()
    form = f'action="{_page(site)}/keycards/{card_id}/deactivate" data-confirm="'
    assert form in activated.text
    deactivated = browser.post(f"{_page(site)}/keycards/{card_id}/deactivate")
    listed = client.get(api, headers=site.auth("pm_keys_full")).json()["items"]

    assert deactivated.status_code == 200
    assert "inactive" in visible_text(deactivated.text)
    assert [(card["card_uid"], card["active"]) for card in listed] == [(CARD, False)]


def test_a_persons_phone_is_listed_and_stopped_here_only_by_suspending(
    portal: Portal, client: TestClient, site: Site
) -> None:
    """A phone is its owner's, in every portfolio: the page lists it, and a manager stops it
    at this building by suspending, never by revoking it everywhere (DESIGN 7)."""
    phone_id = _enrol_phone(client, site)
    browser = portal.as_person(site.person("portfolio_manager"))

    shown = browser.get(_page(site))
    forged = browser.post(f"{_page(site)}/phones/{phone_id}/revoke")
    mine = client.get(f"{site.url}/phones", headers=site.auth("resident")).json()["items"]

    assert "Phones" in shown.text
    assert "/revoke" not in shown.text
    assert forged.status_code in (404, 405)
    assert mine[0]["revoked_at"] is None


def test_rule_a6_suspend_then_restore_from_the_page_changes_the_apis_suspension(
    portal: Portal, client: TestClient, db: Session, site: Site, clock: Clock
) -> None:
    browser = portal.as_person(site.person("property_manager"))
    state_url = f"{site.url}/people/{site.person('resident')}/suspension"
    manager = site.auth("property_manager")
    sync(db, site.home_lock_id)

    before = browser.get(_page(site))
    suspended = browser.post(_page(site) + "/suspend")
    state = client.get(state_url, headers=manager).json()

    assert f'action="{_page(site)}/suspend" data-confirm="' in before.text
    assert "temporary doorcode is emailed" in before.text
    assert suspended.status_code == 200
    assert state["suspended_at"] is not None
    assert state["temporary_code_emailed"] is True
    text = visible_text(suspended.text)
    assert "Building access suspended" in text
    assert "waiting for its next sync" in text
    assert "must enrol a new phone" in text
    assert f'action="{_page(site)}/restore"' in suspended.text
    mail = mails_to(db, "resident@example.org")[-1]
    code = re.findall(r"^  [^:]+: (\d{5,10})$", mail.body_text, flags=re.M)[0]
    assert code not in suspended.text
    assert_no_raw_ids(suspended.text)

    sync(db, site.home_lock_id)
    applied = browser.get(_page(site))
    assert "applied" in visible_text(applied.text)

    clock.advance(minutes=5)
    restored = browser.post(_page(site) + "/restore")
    state = client.get(state_url, headers=manager).json()

    assert restored.status_code == 200
    assert "Access is restored" in restored.text
    assert state["suspended_at"] is None
    assert "Suspend building access" in restored.text


def test_a_residents_forged_suspend_is_refused_and_changes_nothing(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("resident"))
    neighbour = site.person("staff")
    url = f"/portal/properties/{site.property_id}/people/{neighbour}/credentials"

    page = browser.get(url)
    forged = browser.post(url + "/suspend")
    own = browser.get(_page(site))

    assert page.status_code in (403, 404)
    assert forged.status_code in (403, 404)
    assert own.status_code in (403, 404)
    assert "Suspend building access" not in page.text + forged.text
    db.expire_all()
    assert db.scalars(select(Profile.suspended_at).where(Profile.person_id == neighbour)).all() in (
        [],
        [None],
    )
    assert mails_to(db, "staff@example.org") == []
    assert (
        list(build_access_list(db, MASTER_KEY, site.home_id, portal.clock()).suspended_subjects)
        == []
    )


@pytest.mark.parametrize("persona", ["property_manager", "pm_keys_specific"])
def test_a_manager_without_credential_powers_sees_only_the_suspension(
    portal: Portal, db: Session, site: Site, persona: str
) -> None:
    """Either may suspend (people.suspend is every manager's) but not manage credentials
    (credentials.manage needs keys full or limited): the page shows and does only that."""
    browser = portal.as_person(site.person(persona))

    page = browser.get(_page(site))
    doorcode = browser.post(_page(site) + "/doorcodes", {"door_id": site.home_id})
    keycard = browser.post(_page(site) + "/keycards", {"card_number": CARD})

    assert page.status_code == 200
    assert "Suspend building access" in page.text
    for hidden in ("Issue doorcode", "Activate keycard", "Doorcodes", "Keycards", "Phones"):
        assert hidden not in page.text
    assert (doorcode.status_code, keycard.status_code) == (403, 403)
    assert mails_to(db, "resident@example.org") == []
    assert db.scalars(select(Keycard)).all() == []
    assert_no_raw_ids(page.text)


def test_a_person_of_another_property_has_no_page_here(portal: Portal, site: Site) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))

    answer = browser.get(
        f"/portal/properties/{site.property_id}/people/{site.foreign_person_id}/credentials"
    )

    assert answer.status_code == 404
