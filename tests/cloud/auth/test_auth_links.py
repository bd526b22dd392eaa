"""Password reset and invitations by emailed one-time links, read back from the outbox.

Links are single use and expire; asking for a reset never reveals whether an email is known.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import PASSWORD, Clock, bearer, make_person, make_unit, row_counts, token_for
from keyturn.cloud.auth.opaque import digest
from keyturn.cloud.models import Account, ApiToken, EmailLink, OutboxMessage, Person, RoleMembership
from worlds import Personas

RESET = "/api/v1/auth/password-reset"
NEW_PASSWORD = "a brand new passphrase"
EMAIL = "erin@example.org"


def _link_token(db: Session, to: str) -> str:
    db.expire_all()
    bodies = (
        db.execute(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.to_address == to)
            .order_by(OutboxMessage.created_at)
        )
        .scalars()
        .all()
    )
    found = re.search(r"#token=([A-Za-z0-9_-]+)", bodies[-1])
    assert found is not None
    return found.group(1)


def _login(client: TestClient, password: str, email: str = EMAIL) -> int:
    return client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    ).status_code


def test_reset_request_answers_the_same_for_known_and_unknown_emails(
    client: TestClient, db: Session
) -> None:
    make_person(db, email=EMAIL, password=PASSWORD)
    db.commit()

    known = client.post(RESET, json={"email": EMAIL})
    unknown = client.post(RESET, json={"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content == b""
    db.expire_all()
    assert db.execute(select(OutboxMessage.to_address)).scalars().all() == [EMAIL]


def test_reset_link_sets_the_password_once_and_stores_only_its_digest(
    client: TestClient, db: Session
) -> None:
    make_person(db, email=EMAIL, password=PASSWORD)
    db.commit()
    client.post(RESET, json={"email": EMAIL})
    token = _link_token(db, EMAIL)
    assert db.execute(select(EmailLink.secret_digest)).scalar_one() == digest(token)

    first = client.post(f"{RESET}/confirm", json={"token": token, "password": NEW_PASSWORD})
    second = client.post(f"{RESET}/confirm", json={"token": token, "password": "yet another one!"})

    assert first.status_code == 204
    assert second.status_code == 400
    assert second.json()["type"].endswith("/invalid-link")
    assert _login(client, PASSWORD) == 401
    assert _login(client, NEW_PASSWORD) == 200


def test_reset_link_expires(client: TestClient, db: Session, clock: Clock) -> None:
    make_person(db, email=EMAIL, password=PASSWORD)
    db.commit()
    client.post(RESET, json={"email": EMAIL})
    token = _link_token(db, EMAIL)
    clock.advance(hours=1, seconds=1)

    answer = client.post(f"{RESET}/confirm", json={"token": token, "password": NEW_PASSWORD})

    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/invalid-link")
    assert _login(client, PASSWORD) == 200


def test_reset_ends_every_token_of_the_account(
    client: TestClient, db: Session, personas: Personas
) -> None:
    token = token_for(db, personas.people["resident"])
    db.commit()
    client.post(RESET, json={"email": "resident@example.org"})
    link = _link_token(db, "resident@example.org")

    client.post(f"{RESET}/confirm", json={"token": link, "password": NEW_PASSWORD})

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    db.expire_all()
    assert (
        db.execute(
            select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))
        ).scalar_one()
        == 0
    )


def test_reset_requests_are_capped_per_hour(client: TestClient, db: Session, clock: Clock) -> None:
    make_person(db, email=EMAIL, password=PASSWORD)
    db.commit()
    for _ in range(5):
        assert client.post(RESET, json={"email": EMAIL}).status_code == 202

    db.expire_all()
    assert db.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 3
    clock.advance(hours=1, seconds=1)
    client.post(RESET, json={"email": EMAIL})
    db.expire_all()
    assert db.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 4


def test_an_invitation_creates_the_person_and_accepting_sets_the_password(
    client: TestClient, db: Session, personas: Personas
) -> None:
    manager = token_for(db, personas.people["property_manager"])
    db.commit()

    invited = client.post(
        f"/api/v1/properties/{personas.property_id}/invitations",
        json={
            "email": "Fay@Example.org",
            "display_name": "Fay",
            "role": "resident",
            "unit_id": personas.unit_id,
        },
        headers=bearer(manager),
    )

    assert invited.status_code == 201
    person = db.execute(select(Person).where(Person.email == "fay@example.org")).scalar_one()
    assert invited.json()["person_id"] == person.id
    membership = db.execute(
        select(RoleMembership).where(RoleMembership.person_id == person.id)
    ).scalar_one()
    assert (membership.role, membership.unit_id) == ("resident", personas.unit_id)
    assert membership.invited_by == personas.people["property_manager"]
    link = _link_token(db, "fay@example.org")
    assert _login(client, NEW_PASSWORD, "fay@example.org") == 401

    accepted = client.post(
        "/api/v1/auth/invitations/accept", json={"token": link, "password": NEW_PASSWORD}
    )
    again = client.post(
        "/api/v1/auth/invitations/accept", json={"token": link, "password": NEW_PASSWORD}
    )

    assert accepted.status_code == 204
    assert again.status_code == 400
    assert _login(client, NEW_PASSWORD, "fay@example.org") == 200


def test_an_invitation_link_cannot_reset_a_password(
    client: TestClient, db: Session, personas: Personas
) -> None:
    manager = token_for(db, personas.people["property_manager"])
    db.commit()
    client.post(
        f"/api/v1/properties/{personas.property_id}/invitations",
        json={"email": "gil@example.org", "display_name": "Gil", "role": "staff"},
        headers=bearer(manager),
    )
    link = _link_token(db, "gil@example.org")

    answer = client.post(f"{RESET}/confirm", json={"token": link, "password": NEW_PASSWORD})

    assert answer.status_code == 400


def test_inviting_someone_with_an_account_sends_a_notice_without_a_link(
    client: TestClient, db: Session, personas: Personas
) -> None:
    make_person(db, email=EMAIL, password=PASSWORD)
    manager = token_for(db, personas.people["property_manager"])
    db.commit()

    answer = client.post(
        f"/api/v1/properties/{personas.property_id}/invitations",
        json={"email": EMAIL, "display_name": "Erin", "role": "staff"},
        headers=bearer(manager),
    )

    assert answer.status_code == 201
    db.expire_all()
    body = db.execute(select(OutboxMessage.body_text)).scalar_one()
    assert "#token=" not in body
    assert db.execute(select(func.count()).select_from(EmailLink)).scalar_one() == 0


def test_a_property_manager_cannot_appoint_managers(
    client: TestClient, db: Session, personas: Personas
) -> None:
    manager = token_for(db, personas.people["pm_keys_full"])
    owner = token_for(db, personas.people["portfolio_manager"])
    db.commit()
    before = row_counts(db)
    body = {"email": "hal@example.org", "display_name": "Hal", "role": "property_manager"}
    url = f"/api/v1/properties/{personas.property_id}/invitations"

    refused = client.post(url, json=body, headers=bearer(manager))

    assert refused.status_code == 403
    assert row_counts(db) == before
    assert client.post(url, json=body, headers=bearer(owner)).status_code == 201


def test_an_invitation_to_a_unit_of_another_property_is_404(
    client: TestClient, db: Session, personas: Personas
) -> None:
    foreign = make_unit(db, property_id=personas.other_property_id, label="1A")
    manager = token_for(db, personas.people["property_manager"])
    db.commit()
    before = row_counts(db)

    answer = client.post(
        f"/api/v1/properties/{personas.property_id}/invitations",
        json={
            "email": "ivy@example.org",
            "display_name": "Ivy",
            "role": "resident",
            "unit_id": foreign.id,
        },
        headers=bearer(manager),
    )

    assert answer.status_code == 404
    assert row_counts(db) == before
    assert db.execute(select(func.count()).select_from(Account)).scalar_one() == len(
        personas.people
    )
