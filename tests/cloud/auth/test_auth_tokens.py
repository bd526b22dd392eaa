"""API tokens and CSRF over HTTP: shown once, stored hashed, revocable, expiring, scoped.

Cookie sessions need the CSRF header on unsafe methods; bearer tokens never do.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import PASSWORD, T0, Clock, bearer, make_person, token_for
from keyturn.cloud.auth import service
from keyturn.cloud.auth.errors import InsufficientScope
from keyturn.cloud.auth.opaque import digest
from keyturn.cloud.auth.permissions import CredentialKind, Principal, Scope, expand_scopes
from keyturn.cloud.models import ApiToken
from worlds import Personas

TOKENS = "/api/v1/auth/tokens"


def _admin_token(db: Session, personas: Personas) -> str:
    token = token_for(db, personas.people["resident"])
    db.commit()
    return token


def test_a_token_is_shown_once_and_stored_as_its_sha256(
    client: TestClient, db: Session, personas: Personas
) -> None:
    admin = _admin_token(db, personas)

    created = client.post(
        TOKENS, json={"name": "reports", "scopes": ["read"]}, headers=bearer(admin)
    )

    assert created.status_code == 201
    secret = created.json()["token"]
    row = db.execute(select(ApiToken).where(ApiToken.name == "reports")).scalar_one()
    assert row.secret_digest == digest(secret)
    listed = client.get(TOKENS, headers=bearer(admin)).json()
    assert {item["name"] for item in listed["items"]} == {"test", "reports"}
    assert secret not in str(listed)
    assert all("token" not in item for item in listed["items"])


def test_a_revoked_token_gets_401(client: TestClient, db: Session, personas: Personas) -> None:
    admin = _admin_token(db, personas)
    created = client.post(TOKENS, json={"name": "ci", "scopes": ["write"]}, headers=bearer(admin))
    token, token_id = created.json()["token"], created.json()["id"]
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200

    revoked = client.delete(f"{TOKENS}/{token_id}", headers=bearer(admin))

    assert revoked.status_code == 204
    answer = client.get("/api/v1/auth/me", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/unauthenticated")


def test_an_expired_token_gets_401(
    client: TestClient, db: Session, personas: Personas, clock: Clock
) -> None:
    admin = _admin_token(db, personas)
    created = client.post(
        TOKENS,
        json={"name": "day", "scopes": ["read"], "expires_in_days": 1},
        headers=bearer(admin),
    )
    token = created.json()["token"]
    clock.advance(hours=23)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200

    clock.advance(hours=1)

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_a_token_with_too_small_a_scope_gets_403(
    client: TestClient, db: Session, personas: Personas
) -> None:
    reader = token_for(db, personas.people["resident"], frozenset({Scope.READ}))
    db.commit()

    answer = client.post(TOKENS, json={"name": "x", "scopes": ["read"]}, headers=bearer(reader))

    assert answer.status_code == 403
    assert answer.json()["type"].endswith("/insufficient-scope")
    assert 'scope="admin"' in answer.headers["WWW-Authenticate"]
    assert client.get(TOKENS, headers=bearer(reader)).status_code == 200


def test_another_accounts_token_cannot_be_revoked(
    client: TestClient, db: Session, personas: Personas
) -> None:
    mine = _admin_token(db, personas)
    theirs = token_for(db, personas.people["guest"])
    db.commit()
    their_id = db.execute(
        select(ApiToken.id).where(ApiToken.secret_digest == digest(theirs))
    ).scalar_one()

    answer = client.delete(f"{TOKENS}/{their_id}", headers=bearer(mine))

    assert answer.status_code == 404
    assert client.get("/api/v1/auth/me", headers=bearer(theirs)).status_code == 200


def test_token_list_pages_with_a_cursor(
    client: TestClient, db: Session, personas: Personas
) -> None:
    admin = _admin_token(db, personas)
    for n in range(4):
        client.post(TOKENS, json={"name": f"t{n}", "scopes": ["read"]}, headers=bearer(admin))

    first = client.get(TOKENS, params={"limit": 3}, headers=bearer(admin)).json()
    second = client.get(
        TOKENS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=bearer(admin)
    ).json()

    assert len(first["items"]) == 3
    assert second["next_cursor"] is None
    names = [item["name"] for item in first["items"] + second["items"]]
    assert sorted(names) == ["t0", "t1", "t2", "t3", "test"]


def test_malformed_authorization_header_is_401(client: TestClient) -> None:
    answer = client.get("/api/v1/auth/me", headers={"Authorization": "Basic YTpi"})

    assert answer.status_code == 401


def _cookie_login(client: TestClient, db: Session) -> str:
    make_person(db, email="carla@example.org", password=PASSWORD)
    db.commit()
    answer = client.post(
        "/api/v1/auth/login", json={"email": "carla@example.org", "password": PASSWORD}
    )
    return str(answer.json()["csrf_token"])


def test_cookie_session_needs_the_csrf_header_on_post(client: TestClient, db: Session) -> None:
    csrf = _cookie_login(client, db)
    body = {"name": "from-portal", "scopes": ["read"]}

    missing = client.post(TOKENS, json=body)
    wrong = client.post(TOKENS, json=body, headers={"X-CSRF-Token": "x" * 43})
    right = client.post(TOKENS, json=body, headers={"X-CSRF-Token": csrf})

    assert missing.status_code == 403
    assert missing.json()["type"].endswith("/csrf")
    assert wrong.status_code == 403
    assert right.status_code == 201
    assert db.execute(select(ApiToken.name)).scalars().all() == ["from-portal"]


def test_a_csrf_token_of_another_session_is_refused(client: TestClient, db: Session) -> None:
    _cookie_login(client, db)
    forged = "f" * 43
    client.cookies.set("keyturn_csrf", forged)

    answer = client.post(
        TOKENS, json={"name": "x", "scopes": ["read"]}, headers={"X-CSRF-Token": forged}
    )

    assert answer.status_code == 403
    assert answer.json()["type"].endswith("/csrf")


def test_cookie_session_needs_no_csrf_header_on_get(client: TestClient, db: Session) -> None:
    _cookie_login(client, db)

    assert client.get(TOKENS).status_code == 200


def test_bearer_requests_are_exempt_from_csrf(
    client: TestClient, db: Session, personas: Personas
) -> None:
    admin = _admin_token(db, personas)

    answer = client.post(TOKENS, json={"name": "cli", "scopes": ["read"]}, headers=bearer(admin))

    assert answer.status_code == 201


def test_a_principal_cannot_mint_a_token_with_more_scopes(db: Session, personas: Personas) -> None:
    account = db.execute(
        select(ApiToken.account_id).where(
            ApiToken.secret_digest == digest(_admin_token(db, personas))
        )
    ).scalar_one()
    writer = Principal(
        person_id=personas.people["resident"],
        account_id=account,
        kind=CredentialKind.TOKEN,
        credential_id="t",
        scopes=expand_scopes(["write"]),
        totp_satisfied=False,
    )

    with pytest.raises(InsufficientScope):
        service.create_token(
            session=db,
            principal=writer,
            name="up",
            scopes=frozenset({Scope.ADMIN}),
            expires_at=None,
            now=T0,
        )
    row, _secret = service.create_token(
        session=db,
        principal=writer,
        name="same",
        scopes=frozenset({Scope.READ}),
        expires_at=None,
        now=T0,
    )
    assert row.scopes == ["read"]
