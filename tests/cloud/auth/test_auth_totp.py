"""TOTP second factor: enrol, confirm, then required at login; managers of strict properties.

Codes are computed from the secret the API returned, at the app clock's time.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from factories import MASTER_KEY, PASSWORD, T0, Clock, bearer, give_role, make_person, token_for
from keyturn.cloud.auth import totp
from keyturn.cloud.models import Account, Property
from keyturn.crypto.sealed import unseal
from keyturn.rules.types import Role
from worlds import Personas

LOGIN = "/api/v1/auth/login"
EMAIL = "dana@example.org"


def _secret(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _enrolled(client: TestClient, db: Session, clock: Clock) -> tuple[bytes, str]:
    """Dana with a password and a confirmed TOTP factor; returns the secret and account id."""
    person = make_person(db, email=EMAIL, password=PASSWORD)
    db.commit()
    token = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD, "mode": "token"}).json()[
        "access_token"
    ]
    started = client.post("/api/v1/auth/totp", headers=bearer(token))
    assert started.status_code == 201
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    secret = _secret(started.json()["secret"])
    confirmed = client.post(
        "/api/v1/auth/totp/confirm",
        json={"code": totp.code_at(secret, clock.now)},
        headers=bearer(token),
    )
    assert confirmed.status_code == 204
    account_id = db.execute(select(Account.id).where(Account.person_id == person.id)).scalar_one()
    return secret, account_id


def test_enrolment_seals_the_secret_under_the_master_key_for_the_account(
    client: TestClient, db: Session, clock: Clock
) -> None:
    secret, account_id = _enrolled(client, db, clock)

    sealed = db.execute(select(Account.totp_secret_sealed)).scalar_one()

    assert sealed is not None
    assert secret not in sealed
    assert unseal(MASTER_KEY, sealed, f"totp:{account_id}".encode()) == secret


def test_a_wrong_confirmation_code_does_not_enable_totp(
    client: TestClient, db: Session, personas: Personas
) -> None:
    token = token_for(db, personas.people["resident"])
    db.commit()
    client.post("/api/v1/auth/totp", headers=bearer(token))

    answer = client.post(
        "/api/v1/auth/totp/confirm", json={"code": "000000"}, headers=bearer(token)
    )

    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/invalid-totp-code")
    db.expire_all()
    assert (
        db.execute(
            select(Account.totp_secret_sealed).where(
                Account.person_id == personas.people["resident"]
            )
        ).scalar_one()
        is None
    )


def test_after_enrolment_login_needs_a_code(client: TestClient, db: Session, clock: Clock) -> None:
    secret, _ = _enrolled(client, db, clock)
    clock.advance(seconds=60)

    without = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD})
    wrong = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD, "totp_code": "123456"})
    code = totp.code_at(secret, clock.now)
    right = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD, "totp_code": code})
    replayed = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD, "totp_code": code})

    assert without.status_code == 401
    assert without.json()["type"].endswith("/totp-code-required")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert replayed.status_code == 401
    assert client.get("/api/v1/auth/me").json()["totp_satisfied"] is True


def test_removing_totp_needs_a_current_code(client: TestClient, db: Session, clock: Clock) -> None:
    secret, _ = _enrolled(client, db, clock)
    clock.advance(seconds=60)
    token = client.post(
        LOGIN,
        json={
            "email": EMAIL,
            "password": PASSWORD,
            "mode": "token",
            "totp_code": totp.code_at(secret, clock.now),
        },
    ).json()["access_token"]
    clock.advance(seconds=30)

    refused = client.post(
        "/api/v1/auth/totp/remove", json={"code": "000000"}, headers=bearer(token)
    )
    removed = client.post(
        "/api/v1/auth/totp/remove",
        json={"code": totp.code_at(secret, clock.now)},
        headers=bearer(token),
    )

    assert refused.status_code == 400
    assert removed.status_code == 204
    db.expire_all()
    assert db.execute(select(Account.totp_secret_sealed)).scalar_one() is None


def _strict(db: Session, personas: Personas) -> None:
    db.execute(
        update(Property)
        .where(Property.id == personas.property_id)
        .values(require_manager_totp=True)
    )
    db.commit()


def test_manager_without_totp_at_a_strict_property_is_told_to_enrol(
    client: TestClient, db: Session, personas: Personas
) -> None:
    _strict(db, personas)
    manager = token_for(db, personas.people["property_manager"])
    resident = token_for(db, personas.people["resident"])
    db.commit()
    invite = {"email": "new@example.org", "display_name": "New", "role": "staff"}
    url = f"/api/v1/properties/{personas.property_id}/invitations"

    refused = client.post(url, json=invite, headers=bearer(manager))
    access = client.get(
        f"/api/v1/properties/{personas.property_id}/access", headers=bearer(manager)
    )
    resident_access = client.get(
        f"/api/v1/properties/{personas.property_id}/access", headers=bearer(resident)
    )

    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/totp-required")
    assert "/api/v1/auth/totp" in refused.json()["detail"]
    assert access.status_code == 403  # with manager roles withheld, nothing is left here
    assert access.json()["type"].endswith("/totp-required")
    assert resident_access.status_code == 200
    assert resident_access.json()["manager_totp_missing"] is False


def test_a_resident_who_is_also_manager_keeps_resident_rights_without_totp(
    client: TestClient, db: Session, personas: Personas
) -> None:
    _strict(db, personas)
    give_role(
        db,
        person_id=personas.people["resident"],
        property_id=personas.property_id,
        role=Role.PROPERTY_MANAGER,
    )
    token = token_for(db, personas.people["resident"])
    db.commit()

    access = client.get(f"/api/v1/properties/{personas.property_id}/access", headers=bearer(token))

    assert access.status_code == 200
    assert access.json()["manager_totp_missing"] is True
    assert "codes.single_day.create" in access.json()["actions"]
    assert "people.manage" not in access.json()["actions"]


def test_manager_with_totp_satisfied_at_a_strict_property_may_act(
    client: TestClient, db: Session, personas: Personas
) -> None:
    _strict(db, personas)
    manager = token_for(db, personas.people["property_manager"], totp_satisfied=True)
    db.commit()

    answer = client.post(
        f"/api/v1/properties/{personas.property_id}/invitations",
        json={"email": "new@example.org", "display_name": "New", "role": "staff"},
        headers=bearer(manager),
    )

    assert answer.status_code == 201


def test_confirming_totp_satisfies_the_current_credential(
    client: TestClient, db: Session, personas: Personas, clock: Clock
) -> None:
    _strict(db, personas)
    manager = token_for(db, personas.people["property_manager"])
    db.commit()
    secret = _secret(client.post("/api/v1/auth/totp", headers=bearer(manager)).json()["secret"])
    client.post(
        "/api/v1/auth/totp/confirm",
        json={"code": totp.code_at(secret, clock.now)},
        headers=bearer(manager),
    )

    answer = client.post(
        f"/api/v1/properties/{personas.property_id}/invitations",
        json={"email": "new@example.org", "display_name": "New", "role": "staff"},
        headers=bearer(manager),
    )

    assert answer.status_code == 201


def test_a_code_is_accepted_one_step_either_side_and_no_further() -> None:
    secret = totp.new_secret()
    code = totp.code_at(secret, T0)

    assert totp.matching_step(secret, code, T0 + timedelta(seconds=30), None) is not None
    assert totp.matching_step(secret, code, T0 - timedelta(seconds=30), None) is not None
    assert totp.matching_step(secret, code, T0 + timedelta(seconds=90), None) is None
    step = totp.matching_step(secret, code, T0, None)
    assert step is not None
    assert totp.matching_step(secret, code, T0, step) is None
