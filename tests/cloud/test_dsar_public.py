"""The public data-request form: anyone files without an account, confirms with a mailed
code, and the request reaches the building's reviewers with its channel and match.

Codes are read from mail delivered to a real SMTP server, as the sender would read them.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from factories import Clock, bearer, give_role, make_person
from keyturn.cloud.models import DataSubjectRequest, PublicRequest
from keyturn.cloud.privacy.public.service import MAX_FORMS_PER_EMAIL
from keyturn.cloud.privacy.verification import MAX_ATTEMPTS_PER_CODE
from keyturn.rules.types import Role
from smtp_server import Mailbox, delivered, received_by
from worlds import HistoryWorld, make_history_world, tokens

FORM = "/api/v1/data-requests/public"


@pytest.fixture
def world(db: Session) -> HistoryWorld:
    built = make_history_world(db)
    db.commit()
    return built


def code_in(mailbox: Mailbox, address: str) -> str:
    codes = [
        found.group(1)
        for _, body in received_by(mailbox, address)
        if (found := re.search(r"code (\d+)", body))
    ]
    assert len(codes) == 1, codes
    return codes[0]


def send_form(client: TestClient, email: str, **extra: str) -> dict[str, str]:
    body = {"email": email, "name": "Ana Pérez", "kind": "deletion", "property": "12 Elm St"}
    answer = client.post(FORM, json={**body, **extra})
    assert answer.status_code == 202, answer.text
    data: dict[str, str] = answer.json()
    return data


def test_a_stranger_files_confirms_and_reaches_the_reviewers_queue(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    clock: Clock,
    world: HistoryWorld,
) -> None:
    sent = send_form(client, "ana@parcels.test", message="I delivered parcels there.")
    first = delivered(engine, tmp_path)
    code = code_in(first, "ana@parcels.test")
    assert received_by(first, "owner@example.org") == []  # nothing reaches reviewers yet
    clock.advance(minutes=5)

    confirmed = client.post(f"{FORM}/{sent['id']}/verify", json={"code": code})

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "verifying"
    owner = tokens(db, world)["owner"]
    queue = client.get(
        f"/api/v1/properties/{world.property_id}/data-requests", headers=bearer(owner)
    ).json()["items"]
    assert len(queue) == 1
    filed = queue[0]
    assert filed["id"] == confirmed.json()["id"]
    assert (filed["channel"], filed["match"], filed["person_id"]) == (
        "web form",
        "no known person",
        None,
    )
    assert filed["identity"] == "email verified; awaiting approval"
    assert (filed["requester_name"], filed["requester_email"]) == ("Ana Pérez", "ana@parcels.test")
    assert filed["note"] == "I delivered parcels there."
    # The request runs from when the form was sent, not from its confirmation (D9).
    assert filed["received_at"] == sent["code_expires_at"].replace("09:15", "09:00")
    second = delivered(engine, tmp_path)
    assert [subject for subject, _ in received_by(second, "ana@parcels.test")] == [
        "We received your data request"
    ]


def test_a_known_address_is_matched_to_its_person_of_the_portfolio(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    clock: Clock,
    world: HistoryWorld,
) -> None:
    sent = send_form(client, "Guest@Example.org", kind="copy")
    code = code_in(delivered(engine, tmp_path), "guest@example.org")

    client.post(f"{FORM}/{sent['id']}/verify", json={"code": code})

    db.expire_all()
    request = db.scalars(select(DataSubjectRequest)).one()
    assert request.person_id == world.people["guest"]
    owner = tokens(db, world)["owner"]
    shown = client.get(f"/api/v1/data-requests/{request.id}", headers=bearer(owner)).json()
    assert shown["match"] == f"matches person guest ({world.people['guest']})"


def test_known_and_unknown_addresses_get_the_same_answer_and_a_code(
    client: TestClient, engine: Engine, tmp_path: Path, clock: Clock, world: HistoryWorld
) -> None:
    known = send_form(client, "resident@example.org")
    unknown = send_form(client, "nobody@nowhere.test")
    elsewhere = send_form(client, "nobody2@nowhere.test", property="No Such Building")

    def without_id(answer: dict[str, str]) -> dict[str, str]:
        return {name: value for name, value in answer.items() if name != "id"}

    assert without_id(known) == without_id(unknown) == without_id(elsewhere)
    mailbox = delivered(engine, tmp_path)
    subjects = {
        address: [subject for subject, _ in received_by(mailbox, address)]
        for address in ("resident@example.org", "nobody@nowhere.test", "nobody2@nowhere.test")
    }
    assert set(map(tuple, subjects.values())) == {("Confirm your Keyturn data request",)}


def test_a_request_for_a_building_not_found_goes_to_the_operator_with_what_was_named(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    clock: Clock,
    world: HistoryWorld,
) -> None:
    sent = send_form(client, "nobody@nowhere.test", property="  the   tower on 5th ")
    code = code_in(delivered(engine, tmp_path), "nobody@nowhere.test")

    client.post(f"{FORM}/{sent['id']}/verify", json={"code": code})

    db.expire_all()
    request = db.scalars(select(DataSubjectRequest)).one()
    assert (request.property_id, request.note) == (None, "property named: the tower on 5th")


def test_wrong_codes_are_counted_and_lock_the_form(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    clock: Clock,
    world: HistoryWorld,
) -> None:
    sent = send_form(client, "ana@parcels.test")
    code = code_in(delivered(engine, tmp_path), "ana@parcels.test")
    wrong = "0" * 8 if code != "0" * 8 else "1" * 8

    answers = [
        client.post(f"{FORM}/{sent['id']}/verify", json={"code": wrong}).status_code
        for _ in range(MAX_ATTEMPTS_PER_CODE)
    ]
    locked = client.post(f"{FORM}/{sent['id']}/verify", json={"code": code})

    assert answers == [422] * MAX_ATTEMPTS_PER_CODE
    assert locked.status_code == 429
    assert locked.json()["type"].endswith("/dsar-throttled")
    db.expire_all()
    assert db.scalars(select(DataSubjectRequest)).all() == []


def test_an_expired_code_is_refused_and_files_nothing(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    clock: Clock,
    world: HistoryWorld,
) -> None:
    sent = send_form(client, "ana@parcels.test")
    code = code_in(delivered(engine, tmp_path), "ana@parcels.test")
    clock.advance(minutes=15)

    late = client.post(f"{FORM}/{sent['id']}/verify", json={"code": code})

    assert late.status_code == 422
    assert "expired" in late.json()["detail"]
    db.expire_all()
    assert db.scalars(select(DataSubjectRequest)).all() == []


def test_a_form_confirms_once(
    client: TestClient, engine: Engine, tmp_path: Path, clock: Clock, world: HistoryWorld
) -> None:
    sent = send_form(client, "ana@parcels.test")
    code = code_in(delivered(engine, tmp_path), "ana@parcels.test")

    first = client.post(f"{FORM}/{sent['id']}/verify", json={"code": code})
    again = client.post(f"{FORM}/{sent['id']}/verify", json={"code": code})

    assert (first.status_code, again.status_code) == (200, 404)


def test_forms_are_throttled_per_address_with_retry_after(
    client: TestClient, db: Session, clock: Clock, world: HistoryWorld
) -> None:
    for _ in range(MAX_FORMS_PER_EMAIL):
        send_form(client, "ana@parcels.test")

    refused = client.post(
        FORM,
        json={"email": "ANA@parcels.test", "name": "A", "kind": "copy", "property": "12 Elm St"},
    )

    assert refused.status_code == 429
    assert refused.json()["type"].endswith("/throttled")
    assert int(refused.headers["Retry-After"]) > 0
    assert len(db.scalars(select(PublicRequest)).all()) == MAX_FORMS_PER_EMAIL
    # Another address from elsewhere is not held back by this one's limit; an hour later,
    # this one may send again.
    send_form(client, "bo@parcels.test")
    clock.advance(seconds=int(refused.headers["Retry-After"]))
    send_form(client, "ana@parcels.test")


def test_forms_are_throttled_per_client_address(client: TestClient, world: HistoryWorld) -> None:
    answers = [
        client.post(
            FORM,
            json={
                "email": f"sender{n}@parcels.test",
                "name": "A",
                "kind": "copy",
                "property": "12 Elm St",
            },
        ).status_code
        for n in range(11)
    ]

    assert answers == [202] * 10 + [429]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address", "name": "A", "kind": "copy", "property": "12 Elm St"},
        {"email": "a@b.test", "name": " ", "kind": "copy", "property": "12 Elm St"},
        {"email": "a@b.test", "name": "A", "kind": "everything", "property": "12 Elm St"},
        {"email": "a@b.test", "name": "A", "kind": "copy"},
        {"email": "a@b.test", "name": "A", "kind": "copy", "property": "x", "admin": True},
    ],
)
def test_bad_forms_are_refused_and_keep_nothing(
    client: TestClient, db: Session, body: dict[str, object]
) -> None:
    answer = client.post(FORM, json=body)

    assert answer.status_code == 422
    assert db.scalars(select(PublicRequest)).all() == []


def test_rule_d2_nothing_is_released_on_an_email_code_alone(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    clock: Clock,
    world: HistoryWorld,
) -> None:
    """A copy asked on the form for a known person's address: the code proves the address,
    but the copy is released only once a reviewer has approved who asked (D2)."""
    sent = send_form(client, "resident@example.org", kind="copy")
    code = code_in(delivered(engine, tmp_path), "resident@example.org")
    request_id = client.post(f"{FORM}/{sent['id']}/verify", json={"code": code}).json()["id"]
    resident = tokens(db, world)
    early = client.post(
        f"/api/v1/account/data-requests/{request_id}/copy", headers=bearer(resident["resident"])
    )
    assert early.status_code == 409
    assert early.json()["type"].endswith("/dsar-wrong-state")

    approved = client.post(
        f"/api/v1/data-requests/{request_id}/approve", headers=bearer(resident["owner"])
    )
    assert approved.json()["state"] == "in_progress"
    copy = client.post(
        f"/api/v1/account/data-requests/{request_id}/copy", headers=bearer(resident["resident"])
    )
    assert copy.status_code == 200


def test_someone_without_an_account_gets_their_copy_by_a_one_time_link(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    world: HistoryWorld,
) -> None:
    cora = make_person(db, email="cora@parcels.test", name="Cora", account=False)
    give_role(db, person_id=cora.id, property_id=world.property_id, role=Role.GUEST)
    db.commit()
    sent = send_form(client, "cora@parcels.test", kind="copy")
    code = code_in(delivered(engine, tmp_path), "cora@parcels.test")
    request_id = client.post(f"{FORM}/{sent['id']}/verify", json={"code": code}).json()["id"]
    owner = tokens(db, world)["owner"]
    delivered(engine, tmp_path)  # the acknowledgement and the reviewers' notice

    approved = client.post(f"/api/v1/data-requests/{request_id}/approve", headers=bearer(owner))

    assert approved.json()["state"] == "in_progress"
    [(subject, text)] = received_by(delivered(engine, tmp_path), "cora@parcels.test")
    assert subject == "Your Keyturn data is ready"
    token = re.search(r"/data-copy#token=(\S+)", text)
    assert token is not None
    copy = client.post("/api/v1/data-requests/copy", json={"token": token[1]})
    assert copy.status_code == 200, copy.text
    contact = zipfile.ZipFile(io.BytesIO(copy.content)).read("contact.json").decode()
    assert "cora@parcels.test" in contact
    again = client.post("/api/v1/data-requests/copy", json={"token": token[1]})
    assert again.status_code == 400
    assert again.json()["type"].endswith("/invalid-link")
    shown = client.get(f"/api/v1/data-requests/{request_id}", headers=bearer(owner)).json()
    assert (shown["state"], shown["response"]) == ("completed", "copy delivered")


def test_a_copy_link_works_only_for_a_copy(client: TestClient, world: HistoryWorld) -> None:
    answer = client.post("/api/v1/data-requests/copy", json={"token": "x" * 43})

    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/invalid-link")
