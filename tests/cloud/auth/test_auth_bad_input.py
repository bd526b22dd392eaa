"""Bad input to the auth routes: wrong types, unknown fields, oversize bodies, junk tokens.

Each gets a 4xx problem document, never echoes a password, and leaves every table as it was.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import bearer, row_counts, token_for
from worlds import Personas

GOOD_INVITE = {"email": "jo@example.org", "display_name": "Jo", "role": "staff"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/login", {"email": "a@b.org", "password": 12345}),
        ("/api/v1/auth/login", {"email": "a@b.org", "password": "x", "admin": True}),
        ("/api/v1/auth/login", {"email": "not-an-email", "password": "hunter2hunter2"}),
        ("/api/v1/auth/login", {"email": "a@b.org", "password": "x", "totp_code": "12ab56"}),
        ("/api/v1/auth/login", ["email", "password"]),
        ("/api/v1/auth/password-reset", {"email": "a@b.org", "extra": 1}),
        ("/api/v1/auth/password-reset/confirm", {"token": "t" * 43, "password": "short"}),
        ("/api/v1/auth/invitations/accept", {"token": "t" * 43, "password": "p" * 300}),
    ],
)
def test_public_routes_refuse_bad_bodies_with_a_422_problem(
    client: TestClient, db: Session, path: str, body: object
) -> None:
    before = row_counts(db)

    answer = client.post(path, json=body)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/validation")
    assert problem["errors"]
    assert "hunter2" not in answer.text
    assert row_counts(db) == before


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD_INVITE, "role": "emperor"},
        {**GOOD_INVITE, "role": "guest"},
        {**GOOD_INVITE, "role": "resident"},  # a resident needs a unit
        {**GOOD_INVITE, "unit_id": "x"},  # staff do not have one
        {**GOOD_INVITE, "is_admin": True},
        {**GOOD_INVITE, "display_name": ""},
        {**GOOD_INVITE, "email": 7},
    ],
)
def test_invitations_refuse_bad_bodies_and_change_nothing(
    client: TestClient, db: Session, personas: Personas, body: dict[str, object]
) -> None:
    token = token_for(db, personas.people["portfolio_manager"])
    db.commit()
    before = row_counts(db)

    answer = client.post(
        f"/api/v1/properties/{personas.property_id}/invitations", json=body, headers=bearer(token)
    )

    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/validation")
    assert row_counts(db) == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": "read"},
        {"name": "x", "scopes": ["read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["read"], "expires_in_days": "soon"},
        {"name": "", "scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "secret": "mine"},
    ],
)
def test_token_creation_refuses_bad_bodies_and_changes_nothing(
    client: TestClient, db: Session, personas: Personas, body: dict[str, object]
) -> None:
    token = token_for(db, personas.people["resident"])
    db.commit()
    before = row_counts(db)

    answer = client.post("/api/v1/auth/tokens", json=body, headers=bearer(token))

    assert answer.status_code == 422
    assert row_counts(db) == before


def test_an_oversize_body_is_413_and_changes_nothing(client: TestClient, db: Session) -> None:
    before = row_counts(db)
    huge = "x" * (2 * 1024 * 1024)

    answer = client.post("/api/v1/auth/login", json={"email": "a@b.org", "password": huge})

    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/body-too-large")
    assert row_counts(db) == before


def test_an_oversize_streamed_body_without_length_is_413(client: TestClient, db: Session) -> None:
    before = row_counts(db)

    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    answer = client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )

    assert answer.status_code == 413
    assert row_counts(db) == before


def test_malformed_json_is_a_422_problem(client: TestClient, db: Session) -> None:
    before = row_counts(db)

    answer = client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/validation")
    assert row_counts(db) == before


@pytest.mark.parametrize("token", ["kt_unknown", "x" * 5000, "kt_" + "\u00e9" * 10])
def test_junk_bearer_tokens_are_401(client: TestClient, token: str) -> None:
    answer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}".encode()})

    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/unauthenticated")


def test_unknown_paths_and_methods_are_problems(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    wrong_method = client.get("/api/v1/auth/login")

    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/not-found")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"].endswith("/method-not-allowed")
