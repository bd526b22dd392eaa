"""One API-level test per access rule A2-A9, each carrying its id, on SQLite and PostgreSQL.

Each drives the HTTP API as the product's people would and checks the stored state, the
outbox and the access lists the locks will receive.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, Clock, bearer, token_for
from keyturn.cloud.access.access_lists import build_access_list, subject_for
from keyturn.cloud.models import (
    Door,
    Doorcode,
    Grant,
    GrantKind,
    MobileKeyRegistration,
    OneTimeCode,
    Person,
    Profile,
    Property,
)
from keyturn.cloud.properties.service import door_secret_of
from keyturn.crypto.codes import code_mac, single_day_code
from keyturn.crypto.keys import SigningKeyPair, VerifyKey
from keyturn.crypto.mobile_keys import verify_mobile_key
from keyturn.rules.doorcodes import is_weak
from keyturn.rules.types import CredentialType
from worlds import Site, mails_to, sync

TOMORROW = date(2026, 3, 3)


def _phone_text(phone: SigningKeyPair) -> str:
    return base64.urlsafe_b64encode(phone.public_bytes()).decode().rstrip("=")


def _token_bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_rule_a2_phone_doorcode_and_keycard_are_managed_mechanical_keys_are_not(
    client: TestClient, db: Session, site: Site
) -> None:
    resident = site.person("resident")
    phone = SigningKeyPair.generate()
    enrolled = client.post(
        f"{site.url}/phones", json={"public_key": _phone_text(phone)}, headers=site.auth("resident")
    )
    keys = client.post(
        f"{site.url}/phones/{enrolled.json()['id']}/mobile-keys", headers=site.auth("resident")
    )
    code = client.post(
        f"{site.url}/people/{resident}/doorcodes",
        json={"door_id": site.home_id},
        headers=site.auth("portfolio_manager"),
    )
    card = client.post(
        f"{site.url}/people/{resident}/keycards",
        json={"card_uid": "04a224b2c35e80"},
        headers=site.auth("portfolio_manager"),
    )

    assert (enrolled.status_code, keys.status_code) == (201, 200)
    assert (code.status_code, card.status_code) == (201, 201)
    prop = db.get_one(Property, site.property_id)
    claims = verify_mobile_key(
        _token_bytes(keys.json()["keys"][0]["token"]),
        VerifyKey.from_bytes(prop.authority_public_key),
        T0,
    )
    assert claims.phone_public == phone.public_bytes()
    assert card.json()["card_uid"] == "04A224B2C35E80"
    listed = build_access_list(db, MASTER_KEY, site.home_id, T0)
    types = {entry.credential_type for entry in listed.upserts}
    assert types == {CredentialType.PERSONAL_DOORCODE, CredentialType.KEYCARD}
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if "mechanical" in path]


def test_rule_a3_personal_codes_have_the_property_length_no_pattern_one_per_door(
    client: TestClient, db: Session, site: Site
) -> None:
    resident = site.person("resident")
    url = f"{site.url}/people/{resident}/doorcodes"
    manager = site.auth("portfolio_manager")

    first = client.post(url, json={"door_id": site.home_id}, headers=manager).json()["code"]
    second = client.post(url, json={"door_id": site.home_id}, headers=manager).json()["code"]
    too_short = client.patch(site.url, json={"doorcode_length": 4}, headers=manager)
    locked = client.patch(site.url, json={"doorcode_length": 8}, headers=manager)

    assert len(first) == len(second) == 7
    assert not is_weak(first)
    assert not is_weak(second)
    live = db.scalar(
        select(func.count()).where(
            Doorcode.person_id == resident,
            Doorcode.door_id == site.home_id,
            Doorcode.revoked_at.is_(None),
        )
    )
    assert live == 1
    secret = door_secret_of(db.get_one(Door, site.home_id), MASTER_KEY)
    assert db.scalar(select(Doorcode.code_mac).where(Doorcode.revoked_at.is_(None))) == code_mac(
        secret, second
    )
    assert too_short.status_code == 422
    assert locked.status_code == 409
    assert locked.json()["type"].endswith("/settings-fixed-by-locks")


def test_rule_a4_single_day_code_revocation_says_it_may_still_work_until_each_lock_syncs(
    client: TestClient, db: Session, site: Site
) -> None:
    headers = site.auth("resident")
    made = client.post(
        f"{site.url}/single-day-codes",
        json={"local_date": TOMORROW.isoformat(), "door_ids": [site.home_id, site.entrance_id]},
        headers=headers,
    )
    not_mine = client.post(
        f"{site.url}/single-day-codes",
        json={"local_date": TOMORROW.isoformat(), "door_ids": [site.neighbour_id]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert not_mine.status_code == 403
    home = next(c for c in made.json()["codes"] if c["door_id"] == site.home_id)
    # The lock derives the same code from its door secret: no sync is needed to verify it.
    secret = door_secret_of(db.get_one(Door, site.home_id), MASTER_KEY)
    assert single_day_code(secret, TOMORROW, 0, 7) == home["code"]
    sync(db, site.home_lock_id)

    revoked = client.delete(f"{site.url}/single-day-codes/{home['id']}", headers=headers)

    assert revoked.status_code == 200
    body = revoked.json()
    assert "STILL OPEN" in body["note"]
    assert "synced" in body["note"]
    assert [(lock["device_id"], lock["applied"]) for lock in body["locks"]] == [
        (site.home_lock_id, False)
    ]
    listed = build_access_list(db, MASTER_KEY, site.home_id, T0)
    assert [(r.local_date, r.slot) for r in listed.single_day_revocations] == [
        (TOMORROW.isoformat(), 0)
    ]
    sync(db, site.home_lock_id)
    shown = client.get(f"{site.url}/single-day-codes/{home['id']}", headers=headers).json()
    assert shown["revoked_at"] is not None
    assert [lock["applied"] for lock in shown["locks"]] == [True]
    assert "code" not in shown


def test_rule_a5_a_resident_invites_a_guest_within_a_year_and_revokes(
    client: TestClient, db: Session, site: Site
) -> None:
    headers = site.auth("resident")
    invite = {
        "email": "sam@example.org",
        "display_name": "Sam",
        "key_id": site.resident_key_id,
        "starts_at": (T0 + timedelta(days=3)).isoformat(),
        "ends_at": (T0 + timedelta(days=5)).isoformat(),
        "windows": [{"weekday": 4, "start": "18:00", "end": "23:00"}],
    }
    too_far = client.post(
        f"{site.url}/guests",
        json={**invite, "starts_at": (T0 + timedelta(days=400)).isoformat(), "ends_at": None},
        headers=headers,
    )
    made = client.post(f"{site.url}/guests", json=invite, headers=headers)

    assert too_far.status_code == 422
    assert too_far.json()["type"].endswith("/invalid-grant")
    assert made.status_code == 201, made.text
    grant = db.get_one(Grant, made.json()["grant_id"])
    assert grant.kind == GrantKind.GUEST
    assert grant.created_by == site.person("resident")
    assert grant.starts_at == T0 + timedelta(days=3)
    assert grant.key.schedule_json == {"windows": invite["windows"]}
    assert {door.id for door in grant.key.doors} == {site.entrance_id, site.home_id}
    assert any("Sam" in mail.body_text for mail in mails_to(db, "sam@example.org"))
    listed = client.get(f"{site.url}/guests", headers=headers).json()["items"]
    assert [guest["grant_id"] for guest in listed] == [grant.id]

    revoked = client.delete(f"{site.url}/guests/{grant.id}", headers=headers)

    assert revoked.status_code == 200
    db.expire_all()
    assert db.get_one(Grant, grant.id).revoked_at == T0
    assert {lock["device_id"] for lock in revoked.json()["locks"]} == {
        site.entrance_lock_id,
        site.home_lock_id,
    }
    assert grant.id in build_access_list(db, MASTER_KEY, site.home_id, T0).revoked_key_ids


def test_rule_a6_lost_phone_suspends_at_once_emails_a_code_and_needs_a_new_phone(
    client: TestClient, db: Session, site: Site, clock: Clock
) -> None:
    resident = site.person("resident")
    old_phone = SigningKeyPair.generate()
    enrolled = client.post(
        f"{site.url}/phones",
        json={"public_key": _phone_text(old_phone)},
        headers=site.auth("resident"),
    ).json()
    sync(db, site.home_lock_id)

    suspended = client.post(
        f"{site.url}/people/{resident}/suspend", json={}, headers=site.auth("property_manager")
    )

    assert suspended.status_code == 200, suspended.text
    body = suspended.json()
    assert body["revoked_phone_ids"] == [enrolled["id"]]
    assert body["temporary_code_emailed"] is True
    assert {lock["device_id"]: lock["applied"] for lock in body["locks"]} == {
        site.entrance_lock_id: False,
        site.home_lock_id: False,
    }
    db.expire_all()
    profile = db.scalars(select(Profile).where(Profile.person_id == resident)).one()
    assert (profile.suspended_at, profile.phones_barred_before) == (T0, T0)
    # The phone is barred in this portfolio only: its registration stays for others.
    phone = db.get_one(MobileKeyRegistration, enrolled["id"])
    assert phone.revoked_at is None
    assert phone.phone_key_id in sync(db, site.home_lock_id).revoked_credential_ids
    # The lost phone's app sessions can do nothing here any more.
    assert client.get(f"{site.url}/phones", headers=site.auth("resident")).status_code == 401
    # The emailed code opens the home door: its list entry is not the suspended subject's.
    mail = mails_to(db, "resident@example.org")[-1]
    listed = build_access_list(db, MASTER_KEY, site.home_id, T0)
    assert subject_for(resident) in listed.suspended_subjects
    secret = door_secret_of(db.get_one(Door, site.home_id), MASTER_KEY)
    temporary = [e for e in listed.upserts if e.credential_type == CredentialType.ONE_TIME_CODE]
    assert len(temporary) == 1
    assert temporary[0].subject not in listed.suspended_subjects
    code = next(word for word in mail.body_text.split() if word.isdigit() and len(word) == 7)
    assert temporary[0].lookup == code_mac(secret, code)
    assert code not in suspended.text  # the manager never sees it
    sync(db, site.home_lock_id)
    state = client.get(
        f"{site.url}/people/{resident}/suspension", headers=site.auth("property_manager")
    ).json()
    assert {lock["device_id"]: lock["applied"] for lock in state["locks"]} == {
        site.entrance_lock_id: False,
        site.home_lock_id: True,
    }

    clock.advance(minutes=30)
    restored = client.post(
        f"{site.url}/people/{resident}/restore", headers=site.auth("property_manager")
    )
    fresh = bearer(token_for(db, resident, now=clock.now))
    db.commit()
    old_keys = client.post(f"{site.url}/phones/{enrolled['id']}/mobile-keys", headers=fresh)
    reused = client.post(
        f"{site.url}/phones", json={"public_key": _phone_text(old_phone)}, headers=fresh
    )
    new_phone = client.post(
        f"{site.url}/phones",
        json={"public_key": _phone_text(SigningKeyPair.generate())},
        headers=fresh,
    ).json()
    new_keys = client.post(f"{site.url}/phones/{new_phone['id']}/mobile-keys", headers=fresh)

    assert restored.status_code == 200
    assert restored.json()["suspended_at"] is None
    assert old_keys.status_code == 409
    assert reused.status_code == 409
    assert new_keys.status_code == 200
    assert len(new_keys.json()["keys"]) == 1
    db.expire_all()
    assert db.scalar(select(func.count()).where(OneTimeCode.revoked_at.is_(None))) == 0


def test_rule_a7_lockout_policy_is_a_property_setting_fixed_once_locks_hold_it(
    client: TestClient, db: Session, site: Site
) -> None:
    manager = site.auth("portfolio_manager")
    policy = {"max_failures": 3, "window_s": 300, "first_cooldown_s": 30, "max_cooldown_s": 1800}
    created = client.post(
        f"/api/v1/portfolios/{site.personas.portfolio_id}/properties",
        json={"name": "14 Elm St", "time_zone": "America/New_York"},
        headers=manager,
    )
    assert created.status_code == 201, created.text
    assert created.json()["lockout"] == {
        "max_failures": 5,
        "window_s": 600,
        "first_cooldown_s": 60,
        "max_cooldown_s": 3600,
    }
    fresh = f"/api/v1/properties/{created.json()['id']}"

    changed = client.patch(fresh, json={"lockout": policy}, headers=manager)
    inverted = client.patch(
        fresh, json={"lockout": {**policy, "max_cooldown_s": 10}}, headers=manager
    )
    held = client.patch(site.url, json={"lockout": policy}, headers=manager)

    assert changed.status_code == 200
    assert changed.json()["lockout"] == policy
    assert inverted.status_code == 422
    assert held.status_code == 409
    assert db.get_one(Property, created.json()["id"]).lockout_max_failures == 3


def test_rule_a8_couriers_never_get_residence_doors(
    client: TestClient, db: Session, site: Site
) -> None:
    manager = site.auth("pm_keys_limited")
    allowed = [site.entrance_id, site.package_room_id]
    before = db.scalar(select(func.count()).select_from(OneTimeCode))

    refused = client.post(
        f"{site.url}/courier-codes", json={"door_ids": [*allowed, site.home_id]}, headers=manager
    )
    refused_key = client.post(
        f"{site.url}/couriers",
        json={"email": "van@example.org", "display_name": "Van", "door_ids": [site.home_id]},
        headers=manager,
    )
    codes = client.post(f"{site.url}/courier-codes", json={"door_ids": allowed}, headers=manager)
    courier = client.post(
        f"{site.url}/couriers",
        json={"email": "van@example.org", "display_name": "Van", "door_ids": allowed},
        headers=manager,
    )

    assert refused.status_code == refused_key.status_code == 422
    assert refused.json()["type"].endswith("/invalid-grant")
    assert codes.status_code == 201
    assert courier.status_code == 201, courier.text
    assert {c["door_id"] for c in codes.json()["codes"]} == set(allowed)
    assert db.scalar(select(func.count()).select_from(OneTimeCode)) == before + 2
    assert db.scalar(select(Person.id).where(Person.email == "van@example.org")) is not None
    widened = client.patch(
        f"{site.url}/keys/{courier.json()['key_id']}",
        json={"door_ids": [*allowed, site.neighbour_id]},
        headers=site.auth("portfolio_manager"),
    )
    assert widened.status_code == 422
    db.expire_all()
    grant = db.get_one(Grant, courier.json()["grant_id"])
    assert {door.id for door in grant.key.doors} == set(allowed)


def test_rule_a9_locks_report_the_mechanical_key_capability_and_lockdown_reaches_them(
    client: TestClient, db: Session, site: Site
) -> None:
    manager = site.auth("portfolio_manager")
    devices = client.get(f"{site.url}/devices", headers=manager).json()["items"]
    locked = client.put(f"{site.url}/lockdown", headers=manager)

    assert {d["device_id"] for d in devices} == {site.entrance_lock_id, site.home_lock_id}
    assert all("mechanical_key" in d["capabilities"] for d in devices)
    assert locked.status_code == 200
    assert locked.json()["lockdown"] is True
    assert [lock["applied"] for lock in locked.json()["locks"]] == [False, False]
    assert sync(db, site.home_lock_id).lockdown is True
    status = client.get(f"{site.url}/lockdown", headers=manager).json()
    assert {lock["device_id"]: lock["applied"] for lock in status["locks"]} == {
        site.entrance_lock_id: False,
        site.home_lock_id: True,
    }
