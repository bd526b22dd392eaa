"""Consent before reference data is collected (R5) and what is never collected (R7), through the
HTTP API on SQLite and PostgreSQL.

The site of the resource API tests is moved to New York City where a test needs it; every
refusal is checked to have written nothing.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, row_counts
from keyturn.cloud.access.access_lists import build_access_list, subject_for
from keyturn.cloud.models import (
    AuditRecord,
    Doorcode,
    Keycard,
    MobileKeyRegistration,
    Profile,
    Property,
)
from keyturn.crypto.keys import SigningKeyPair
from worlds import Site

NYC = "US-NY-NYC"
CONSENT_REQUIRED = "https://keyturn.invalid/problems/consent-required"


def _in_nyc(db: Session, site: Site) -> None:
    db.get_one(Property, site.property_id).jurisdiction = NYC
    db.commit()


def _phone() -> dict[str, str]:
    raw = SigningKeyPair.generate().public_bytes()
    return {"public_key": base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def _collect(client: TestClient, site: Site, persona: str, card_uid: str) -> list[Response]:
    """Try all three kinds of reference data for the persona: phone, doorcode, keycard."""
    person = site.person(persona)
    manager = site.auth("portfolio_manager")
    return [
        client.post(f"{site.url}/phones", json=_phone(), headers=site.auth(persona)),
        client.post(
            f"{site.url}/people/{person}/doorcodes", json={"door_id": site.home_id}, headers=manager
        ),
        client.post(
            f"{site.url}/people/{person}/keycards", json={"card_uid": card_uid}, headers=manager
        ),
    ]


def _refused(answer: Response, missing: str) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    body: dict[str, Any] = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (body["type"], body["missing"]) == (CONSENT_REQUIRED, missing)
    return body


def _audit(db: Session, action: str) -> list[AuditRecord]:
    db.expire_all()
    return list(db.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_rule_r5_nyc_resident_without_consent_gets_no_phone_doorcode_or_keycard(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)
    before = row_counts(db)

    answers = _collect(client, site, "resident", "04A1")
    own_code = client.post(
        f"{site.url}/doorcodes/mine", json={"door_id": site.home_id}, headers=site.auth("resident")
    )

    for answer in [*answers, own_code]:
        body = _refused(answer, "tenant_consent_missing")
        assert (body["person_id"], body["property_id"]) == (
            site.person("resident"),
            site.property_id,
        )
    assert row_counts(db) == before


def test_rule_r5_consent_given_in_the_app_lets_the_credentials_be_collected(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)
    resident = site.person("resident")

    given = client.post(
        "/api/v1/account/consent", json={"consent": True}, headers=site.auth("resident")
    )
    answers = _collect(client, site, "resident", "04A2")

    assert given.status_code == 200, given.text
    assert [each["tenant_consent_via"] for each in given.json()["portfolios"]] == ["app"]
    assert given.json()["missing_at"] == []
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert _profile(db, resident).nyc_consent_at == T0
    [recorded] = _audit(db, "consent.recorded")
    assert (recorded.actor_person_id, recorded.object_id) == (resident, resident)
    assert recorded.detail == {"consent": "tenant", "via": "app"}
    subjects = {
        entry.subject for entry in build_access_list(db, MASTER_KEY, site.home_id, T0).upserts
    }
    assert subject_for(resident) in subjects


def test_rule_r5_written_consent_recorded_by_a_manager_is_kept_with_its_document(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)
    resident = site.person("resident")
    url = f"{site.url}/people/{resident}"
    before = client.get(url, headers=site.auth("property_manager")).json()["consent"]

    recorded = client.post(
        f"{url}/consent",
        json={"kind": "tenant", "document": "Consent form 2026-014, office binder B"},
        headers=site.auth("property_manager"),
    )
    answers = _collect(client, site, "resident", "04A3")

    assert (before["required"], before["collection_allowed"]) == (True, False)
    assert before["missing"] == "tenant_consent_missing"
    assert recorded.status_code == 200, recorded.text
    state = recorded.json()
    assert (state["required"], state["collection_allowed"], state["missing"]) == (True, True, None)
    assert (state["tenant_consent_via"], state["tenant_consent_document"]) == (
        "written",
        "Consent form 2026-014, office binder B",
    )
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    [entry] = _audit(db, "consent.recorded")
    assert entry.actor_person_id == site.person("property_manager")
    assert entry.property_id == site.property_id
    assert entry.detail["document"] == "Consent form 2026-014, office binder B"


def test_rule_r7_nyc_minor_with_only_app_consent_is_refused_until_a_guardian_writes(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)
    resident = site.person("resident")
    manager = site.auth("property_manager")
    marked = client.patch(f"{site.url}/people/{resident}", json={"is_minor": True}, headers=manager)
    client.post("/api/v1/account/consent", json={"consent": True}, headers=site.auth("resident"))
    before = row_counts(db)

    refused = _collect(client, site, "resident", "04A4")
    no_document = client.post(
        f"{site.url}/people/{resident}/consent", json={"kind": "guardian"}, headers=manager
    )

    assert marked.status_code == 200, marked.text
    assert marked.json()["is_minor"] is True
    for answer in refused:
        _refused(answer, "guardian_written_consent_missing")
    assert no_document.status_code == 422
    assert row_counts(db) == before

    guardian = client.post(
        f"{site.url}/people/{resident}/consent",
        json={"kind": "guardian", "document": "Signed by a parent, scanned to file 88"},
        headers=manager,
    )
    allowed = _collect(client, site, "resident", "04A5")

    assert guardian.status_code == 200, guardian.text
    assert guardian.json()["guardian_consent_document"] == "Signed by a parent, scanned to file 88"
    assert [answer.status_code for answer in allowed] == [201, 201, 201]


def test_rule_r7_marking_a_credential_holder_as_minor_needs_the_guardian_consent_first(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)
    resident = site.person("resident")
    manager = site.auth("property_manager")
    client.post("/api/v1/account/consent", json={"consent": True}, headers=site.auth("resident"))
    assert _collect(client, site, "resident", "04A6")[2].status_code == 201

    refused = client.patch(
        f"{site.url}/people/{resident}", json={"is_minor": True}, headers=manager
    )

    _refused(refused, "guardian_written_consent_missing")
    db.expire_all()
    assert _profile(db, resident).is_minor is False
    client.post(
        f"{site.url}/people/{resident}/consent",
        json={"kind": "guardian", "document": "Form G-2"},
        headers=manager,
    )
    assert (
        client.patch(
            f"{site.url}/people/{resident}", json={"is_minor": True}, headers=manager
        ).status_code
        == 200
    )


def test_rule_r5_outside_nyc_no_consent_is_needed(
    client: TestClient, db: Session, site: Site
) -> None:
    answers = _collect(client, site, "resident", "04A7")

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    state = client.get(
        f"{site.url}/people/{site.person('resident')}", headers=site.auth("property_manager")
    ).json()["consent"]
    assert (state["required"], state["collection_allowed"]) == (False, True)


def test_rule_r5_staff_are_not_tenants_and_need_no_consent(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)

    card = client.post(
        f"{site.url}/people/{site.person('staff')}/keycards",
        json={"card_uid": "05B1"},
        headers=site.auth("portfolio_manager"),
    )
    phone = client.post(f"{site.url}/phones", json=_phone(), headers=site.auth("staff"))

    assert (card.status_code, phone.status_code) == (201, 201)


def test_rule_r5_withdrawing_consent_revokes_what_it_allowed(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)
    resident = site.person("resident")
    client.post("/api/v1/account/consent", json={"consent": True}, headers=site.auth("resident"))
    assert [a.status_code for a in _collect(client, site, "resident", "04A8")] == [201] * 3

    withdrawn = client.delete("/api/v1/account/consent", headers=site.auth("resident"))

    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    counts = [body[name] for name in ("revoked_doorcodes", "removed_keycards", "revoked_phones")]
    assert counts == [1, 1, 1]
    assert {lock["door_id"] for lock in body["locks"]} == {site.home_id, site.entrance_id}
    db.expire_all()
    assert db.scalars(select(Keycard).where(Keycard.person_id == resident)).all() == []
    live_codes = select(Doorcode).where(
        Doorcode.person_id == resident, Doorcode.revoked_at.is_(None)
    )
    assert db.scalars(live_codes).all() == []
    phone = db.scalars(
        select(MobileKeyRegistration).where(MobileKeyRegistration.person_id == resident)
    ).one()
    # Barred in this portfolio (its locks list it as revoked); the registration itself stays.
    assert phone.revoked_at is None
    assert _profile(db, resident).phones_barred_before == T0
    access = build_access_list(db, MASTER_KEY, site.home_id, T0)
    assert phone.phone_key_id in access.revoked_credential_ids
    assert subject_for(resident) not in {entry.subject for entry in access.upserts}
    [entry] = _audit(db, "consent.withdrawn")
    assert entry.detail["revoked_doorcodes"] == 1
    _refused(_collect(client, site, "resident", "04A9")[2], "tenant_consent_missing")


def test_rule_r5_a_manager_records_a_withdrawal_too(
    client: TestClient, db: Session, site: Site
) -> None:
    _in_nyc(db, site)
    resident = site.person("resident")
    manager = site.auth("property_manager")
    client.post(
        f"{site.url}/people/{resident}/consent",
        json={"kind": "tenant", "document": "Letter of 1 March"},
        headers=manager,
    )
    assert _collect(client, site, "resident", "04AA")[2].status_code == 201

    withdrawn = client.delete(f"{site.url}/people/{resident}/consent/tenant", headers=manager)
    unknown = client.delete(f"{site.url}/people/{resident}/consent/spouse", headers=manager)
    elsewhere = client.delete(
        f"{site.url}/people/{site.foreign_person_id}/consent/tenant", headers=manager
    )

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["removed_keycards"] == 1
    assert unknown.status_code == 422
    assert elsewhere.status_code == 404
    db.expire_all()
    profile = _profile(db, resident)
    assert (profile.nyc_consent_at, profile.nyc_consent_document) == (None, None)


def test_rule_r5_own_consent_must_be_an_explicit_true(
    client: TestClient, db: Session, site: Site
) -> None:
    headers = site.auth("resident")
    before = row_counts(db)

    answers = [
        client.post("/api/v1/account/consent", json=body, headers=headers)
        for body in ({}, {"consent": False}, {"consent": "yes"}, {"consent": True, "gps": "x"})
    ]

    assert [answer.status_code for answer in answers] == [422] * 4
    assert row_counts(db) == before


def test_rule_r7_person_create_and_update_refuse_location_and_relationship_fields(
    client: TestClient, db: Session, site: Site
) -> None:
    manager = site.auth("portfolio_manager")
    resident_url = f"{site.url}/people/{site.person('resident')}"
    new_person = {"email": "cy@example.org", "display_name": "Cy", "role": "staff"}
    before = row_counts(db)

    answers = [
        client.post(f"{site.url}/people", json={**new_person, "latitude": 40.7}, headers=manager),
        client.post(
            f"{site.url}/people", json={**new_person, "marital_status": "married"}, headers=manager
        ),
        client.patch(resident_url, json={"location": "Queens"}, headers=manager),
        client.patch(resident_url, json={"relationship": "spouse"}, headers=manager),
        client.patch(resident_url, json={"partner_id": site.person("staff")}, headers=manager),
    ]

    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"].endswith("/validation")
    assert row_counts(db) == before


def test_rule_r5_only_what_the_locks_need_is_collected(
    client: TestClient, db: Session, site: Site
) -> None:
    stored = {
        table: {column["name"] for column in inspect(db.get_bind()).get_columns(table)}
        for table in ("doorcodes", "keycards", "mobile_key_registrations")
    }
    person = site.person("resident")
    extra = [
        client.post(
            f"{site.url}/phones",
            json={**_phone(), "device_name": "Ana's phone"},
            headers=site.auth("resident"),
        ),
        client.post(
            f"{site.url}/people/{person}/keycards",
            json={"card_uid": "04AB", "holder_photo": "x"},
            headers=site.auth("portfolio_manager"),
        ),
    ]

    # A code is kept as its MAC, a card as its UID, a phone as its public key: nothing more.
    assert stored == {
        "doorcodes": {"id", "person_id", "door_id", "code_mac", "created_at", "revoked_at"},
        "keycards": {"id", "person_id", "property_id", "card_uid", "active", "created_at"},
        "mobile_key_registrations": {
            "id",
            "person_id",
            "phone_public_key",
            "phone_key_id",
            "registered_at",
            "revoked_at",
        },
    }
    assert [answer.status_code for answer in extra] == [422, 422]


def _profile(db: Session, person_id: str) -> Profile:
    return db.scalars(select(Profile).where(Profile.person_id == person_id)).one()
