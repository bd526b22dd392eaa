"""Regressions: one portfolio never touches another's people, and nobody acts on someone who
outranks them.

A manager of an unrelated portfolio attaches the email of a resident of the first one (which
the API allows: one login serves a human everywhere) and then calls every person-level route
on her. The first portfolio's view of her (name, minor flag, consent, suspension,
credentials, what its locks are told, her sign-in there) must not move. Reads go through the
API and plain credential rows, so the test runs unchanged on the code before the fix.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, Clock, bearer, give_role, make_person, token_for
from keyturn.cloud.access.access_lists import build_access_list, subject_for
from keyturn.cloud.auth.deps import app_routes
from keyturn.cloud.models import (
    Doorcode,
    Keycard,
    MobileKeyRegistration,
    Property,
)
from keyturn.cloud.properties.service import give_authority
from keyturn.crypto.keys import SigningKeyPair
from keyturn.rules.types import Role
from worlds import Site

NYC = "US-NY-NYC"
RESIDENT_EMAIL = "resident@example.org"


@pytest.fixture(autouse=True)
def _frozen_clock(app: FastAPI) -> None:
    """The API's clock stands at the fixtures' T0, when their tokens and grants were made."""
    app.state.clock = Clock()


def _ok(response: Any, *expected: int) -> Any:
    assert response.status_code in (expected or (200, 201, 204)), response.text
    return response


@pytest.fixture
def first_portfolio(client: TestClient, db: Session, site: Site) -> Site:
    """Make the first property a New York City one where the resident consented in writing
    and holds a doorcode, a keycard and an enrolled phone."""
    for prop in db.scalars(select(Property)):
        prop.jurisdiction = NYC
    db.commit()
    manager = site.auth("portfolio_manager")
    resident = site.person("resident")
    _ok(
        client.post(
            f"{site.url}/people/{resident}/consent",
            json={"kind": "tenant", "document": "lease addendum, office binder"},
            headers=manager,
        )
    )
    _ok(
        client.post(
            f"{site.url}/people/{resident}/doorcodes",
            json={"door_id": site.home_id},
            headers=manager,
        )
    )
    _ok(
        client.post(
            f"{site.url}/people/{resident}/keycards",
            json={"card_uid": "04A1B2C3"},
            headers=manager,
        )
    )
    phone = SigningKeyPair.generate()
    encoded = base64.urlsafe_b64encode(phone.public_bytes()).decode().rstrip("=")
    _ok(
        client.post(
            f"{site.url}/phones", json={"public_key": encoded}, headers=site.auth("resident")
        )
    )
    return site


def _first_portfolio_view(client: TestClient, db: Session, site: Site) -> dict[str, Any]:
    """Everything the first portfolio knows or tells its locks about the resident."""
    resident = site.person("resident")
    db.expire_all()
    person = _ok(
        client.get(f"{site.url}/people/{resident}", headers=site.auth("portfolio_manager"))
    ).json()
    home = build_access_list(db, MASTER_KEY, site.home_id, T0)
    phones = db.scalars(
        select(MobileKeyRegistration).where(MobileKeyRegistration.person_id == resident)
    ).all()
    return {
        "name": person["display_name"],
        "minor": person["is_minor"],
        "suspended_at": person["suspended_at"],
        "consent": person["consent"],
        "live_doorcodes": sorted(
            code.id
            for code in db.scalars(
                select(Doorcode).where(
                    Doorcode.person_id == resident, Doorcode.revoked_at.is_(None)
                )
            )
        ),
        "active_cards": sorted(
            card.card_uid
            for card in db.scalars(
                select(Keycard).where(
                    Keycard.person_id == resident,
                    Keycard.property_id == site.property_id,
                    Keycard.active.is_(True),
                )
            )
        ),
        "phones_revoked": [phone.revoked_at for phone in phones],
        "lock_refuses_phone": any(
            phone.phone_key_id in home.revoked_credential_ids for phone in phones
        ),
        "lock_suspends": subject_for(resident) in home.suspended_subjects,
        "her_sign_in_works": client.get(
            f"{site.url}/phones", headers=site.auth("resident")
        ).status_code,
    }


def _person_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app_routes(app)
        if "{person_id}" in route.path
        for method in route.methods
        if method != "HEAD"
    }


@pytest.mark.usefixtures("first_portfolio")
def test_another_portfolio_cannot_change_a_person_it_attached(
    app: FastAPI, client: TestClient, db: Session, site: Site
) -> None:
    other = site.personas.other_property_id
    give_authority(db.get_one(Property, other), MASTER_KEY)
    intruder = make_person(db, email="oak-owner@example.org")
    give_role(db, person_id=intruder.id, property_id=other, role=Role.PORTFOLIO_MANAGER)
    theirs = bearer(token_for(db, intruder.id))
    db.commit()
    before = _first_portfolio_view(client, db, site)
    assert before["her_sign_in_works"] == 200
    assert before["live_doorcodes"]
    assert before["active_cards"] == ["04A1B2C3"]

    here = f"/api/v1/properties/{other}"
    attached = _ok(
        client.post(
            f"{here}/people",
            json={"email": RESIDENT_EMAIL, "display_name": "Someone Else", "role": "staff"},
            headers=theirs,
        ),
        201,
    ).json()
    resident = attached["id"]
    assert resident == site.person("resident")
    person = f"{here}/people/{resident}"
    walked: set[tuple[str, str]] = set()

    def call(method: str, template: str, url: str, **kwargs: Any) -> Any:
        walked.add((method, f"/api/v1/properties/{{property_id}}/people/{{person_id}}{template}"))
        answer = client.request(method, url, headers=theirs, **kwargs)
        assert answer.status_code < 500, answer.text
        return answer

    call("GET", "", person)
    call("PATCH", "", person, json={"display_name": "Renamed By Oak", "is_minor": True})
    call("POST", "/consent", f"{person}/consent", json={"kind": "tenant", "document": "x"})
    call("DELETE", "/consent/{kind}", f"{person}/consent/tenant")
    call("POST", "/consent", f"{person}/consent", json={"kind": "guardian", "document": "y"})
    call("DELETE", "/consent/{kind}", f"{person}/consent/guardian")
    call("POST", "/suspend", f"{person}/suspend", json={"send_temporary_code": False})
    call("GET", "/suspension", f"{person}/suspension")
    call("GET", "/doorcodes", f"{person}/doorcodes")
    call("POST", "/doorcodes", f"{person}/doorcodes", json={"door_id": site.foreign_door_id})
    call("GET", "/keycards", f"{person}/keycards")
    call("POST", "/keycards", f"{person}/keycards", json={"card_uid": "04A1B2C3"})
    role = call("POST", "/roles", f"{person}/roles", json={"role": "property_manager"})
    if role.status_code == 201:
        _ok(client.delete(f"{here}/roles/{role.json()['id']}", headers=theirs), 204)
    managers = f"{here}/managers/{resident}"
    manager_route = "/api/v1/properties/{property_id}/managers/{person_id}"
    walked |= {("PUT", manager_route), ("DELETE", manager_route)}
    powers = {"keys": "full", "device_management": True, "security_viewer": True}
    _ok(client.put(f"{site.url}/managers/{resident}", json=powers, headers=theirs), 404)
    _ok(client.put(managers, json=powers, headers=theirs), 200)
    _ok(client.delete(managers, headers=theirs), 204)
    call("POST", "/restore", f"{person}/restore")
    call("POST", "/suspend", f"{person}/suspend", json={"send_temporary_code": False})

    # The portal's pages about a person: the same gate and services, forms instead of JSON.
    page = f"/portal/properties/{other}/people/{resident}"
    card = db.scalars(select(Keycard.id).where(Keycard.card_uid == "04A1B2C3")).first()
    phone = db.scalars(
        select(MobileKeyRegistration.id).where(MobileKeyRegistration.person_id == resident)
    ).first()

    def visit(method: str, template: str, **form: str) -> None:
        walked.add((method, "/portal/properties/{property_id}/people/{person_id}" + template))
        url = page + template.replace("{keycard_id}", str(card))
        url = url.replace("{registration_id}", str(phone))
        answer = client.request(method, url, headers=theirs, data=form or None)
        assert answer.status_code < 500, answer.text

    visit("GET", "")
    visit("POST", "/move-in", unit_id="", starts_on="2026-03-02")
    visit("POST", "/move-out", membership_id="", when="now")
    visit("POST", "/manager", keys="full", device_management="on", security_viewer="on")
    visit("POST", "/manager/remove")
    visit("GET", "/credentials")
    visit("POST", "/credentials/doorcodes", door_id=site.foreign_door_id)
    visit("POST", "/credentials/keycards", card_number="04A1B2C3")
    visit("POST", "/credentials/keycards/{keycard_id}/deactivate")
    visit("POST", "/credentials/phones/{registration_id}/revoke")
    visit("POST", "/credentials/suspend")
    visit("POST", "/credentials/restore")

    # Every person-level route of the app was walked: a new one must be added here.
    assert _person_routes(app) <= walked
    after = _first_portfolio_view(client, db, site)
    assert after == before


def test_a_property_manager_cannot_suspend_or_rename_the_portfolio_manager(
    client: TestClient, db: Session, site: Site
) -> None:
    owner = site.person("portfolio_manager")
    manager = site.auth("pm_keys_full")

    suspended = client.post(f"{site.url}/people/{owner}/suspend", json={}, headers=manager)
    renamed = client.patch(
        f"{site.url}/people/{owner}", json={"display_name": "Demoted"}, headers=manager
    )
    peer = client.post(
        f"{site.url}/people/{site.person('pm_security_viewer')}/suspend", json={}, headers=manager
    )

    assert suspended.status_code == 403, suspended.text
    assert renamed.status_code == 403, renamed.text
    assert peer.status_code == 403, peer.text  # acting on a manager needs managers.manage
    read = client.get(f"{site.url}/people/{owner}", headers=manager)
    assert read.status_code == 200
    assert read.json()["suspended_at"] is None
    assert read.json()["display_name"] != "Demoted"
    # The owner's own sign-in still works.
    assert client.get(f"{site.url}/phones", headers=site.auth("portfolio_manager")).status_code == (
        200
    )


def test_a_property_manager_still_acts_on_residents_and_the_owner_on_managers(
    client: TestClient, site: Site
) -> None:
    resident = site.person("resident")
    on_resident = client.patch(
        f"{site.url}/people/{resident}",
        json={"display_name": "Ada Park"},
        headers=site.auth("pm_keys_full"),
    )
    on_manager = client.patch(
        f"{site.url}/people/{site.person('pm_keys_full')}",
        json={"display_name": "Morgan Keys"},
        headers=site.auth("portfolio_manager"),
    )

    assert on_resident.status_code == 200, on_resident.text
    assert on_manager.status_code == 200, on_manager.text
