"""The data-subject request API: a person's copy end to end, an agent's request and its review.

Runs the real app with bearer tokens; codes are read from the outbox, as a person would
read them from their mail.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import bearer, token_for
from keyturn.cloud.auth.permissions import Scope
from keyturn.cloud.models import AuditRecord, OutboxMessage
from keyturn.cloud.privacy.verification import MAX_ATTEMPTS_PER_CODE
from worlds import HistoryWorld, make_history_world, tokens


@pytest.fixture
def world(session: Session) -> HistoryWorld:
    built = make_history_world(session)
    session.commit()
    return built


def _code(session: Session, address: str) -> str:
    session.expire_all()
    bodies = session.scalars(
        select(OutboxMessage.body_text)
        .where(OutboxMessage.to_address == address)
        .order_by(OutboxMessage.created_at)
    ).all()
    found = [m.group(1) for body in bodies if (m := re.search(r"code is (\d+)", body))]
    return found[-1]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_person_files_verifies_and_downloads_their_copy(
    client: TestClient, session: Session, world: HistoryWorld
) -> None:
    token = tokens(session, world)["resident"]
    filed = client.post(
        "/api/v1/account/data-requests", json={"kind": "copy"}, headers=bearer(token)
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    assert filed.json()["state"] == "verifying"
    early = client.post(f"/api/v1/account/data-requests/{request_id}/copy", headers=bearer(token))
    assert early.status_code == 409
    code = _code(session, "resident@example.org")
    wrong = client.post(
        f"/api/v1/account/data-requests/{request_id}/verify",
        json={"code": code, "email": "resident@example.org", "display_name": "someone"},
        headers=bearer(token),
    )
    assert wrong.status_code == 422
    verified = client.post(
        f"/api/v1/account/data-requests/{request_id}/verify",
        json={"code": code, "email": "resident@example.org", "display_name": "resident"},
        headers=bearer(token),
    )
    assert verified.json()["state"] == "in_progress"
    copy = client.post(f"/api/v1/account/data-requests/{request_id}/copy", headers=bearer(token))
    assert copy.status_code == 200
    assert "contact.json" in zipfile.ZipFile(io.BytesIO(copy.content)).namelist()
    mine = client.get("/api/v1/account/data-requests", headers=bearer(token)).json()["items"]
    assert [(r["id"], r["state"]) for r in mine] == [(request_id, "completed")]
    other = tokens(session, world)["neighbour"]
    peek = client.get(f"/api/v1/account/data-requests/{request_id}", headers=bearer(other))
    assert peek.status_code == 404


def test_rule_d2_failed_tries_through_the_api_count_until_the_code_is_spent(
    client: TestClient, session: Session, world: HistoryWorld
) -> None:
    token = tokens(session, world)["resident"]
    filed = client.post(
        "/api/v1/account/data-requests", json={"kind": "copy"}, headers=bearer(token)
    )
    request_id = filed.json()["id"]
    code = _code(session, "resident@example.org")
    verify = f"/api/v1/account/data-requests/{request_id}/verify"
    wrong = {"code": code, "email": "resident@example.org", "display_name": "someone"}
    for _ in range(MAX_ATTEMPTS_PER_CODE):
        assert client.post(verify, json=wrong, headers=bearer(token)).status_code == 422
    right = {**wrong, "display_name": "resident"}
    spent = client.post(verify, json=right, headers=bearer(token))
    assert spent.status_code == 429, spent.text
    read = client.get(f"/api/v1/account/data-requests/{request_id}", headers=bearer(token))
    assert read.json()["state"] == "verifying"


def test_an_agent_files_and_only_the_properties_reviewer_approves(
    client: TestClient, session: Session, world: HistoryWorld
) -> None:
    made = tokens(session, world)
    letter = {"content_type": "application/pdf", "data_base64": _b64(b"%PDF letter")}
    identity = {"content_type": "image/jpeg", "data_base64": _b64(b"agent id")}
    filed = client.post(
        "/api/v1/account/data-requests/agent",
        json={
            "kind": "deletion",
            "subject_email": "resident@example.org",
            "letter": letter,
            "identity": identity,
        },
        headers=bearer(made["outsider"]),
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    assert filed.json()["by_agent"] is True
    listed = client.get(
        f"/api/v1/properties/{world.property_id}/data-requests", headers=bearer(made["owner"])
    )
    assert [r["id"] for r in listed.json()["items"]] == [request_id]
    refused = client.post(
        f"/api/v1/data-requests/{request_id}/approve", headers=bearer(made["resident"])
    )
    assert refused.status_code == 403
    read_only = token_for(session, world.people["owner"], frozenset({Scope.READ, Scope.WRITE}))
    session.commit()
    assert (
        client.post(
            f"/api/v1/data-requests/{request_id}/approve", headers=bearer(read_only)
        ).status_code
        == 403
    )
    document_id = filed.json()["documents"][0]["id"]
    document = client.get(
        f"/api/v1/data-requests/{request_id}/documents/{document_id}",
        headers=bearer(made["owner"]),
    )
    assert document.content == b"%PDF letter"
    approved = client.post(
        f"/api/v1/data-requests/{request_id}/approve", headers=bearer(made["owner"])
    )
    body = approved.json()
    assert body["state"] == "waiting_on_preconditions"
    assert "Unit 1A" in body["response"]
    held = client.post(
        f"/api/v1/data-requests/{request_id}/hold",
        json={"reason": "fraud investigation"},
        headers=bearer(made["owner"]),
    )
    assert (held.json()["state"], held.json()["hold_reason"]) == ("on_hold", "fraud investigation")
    session.expire_all()
    actions = set(session.scalars(select(AuditRecord.action)))
    assert {"dsar.document_read", "dsar.approved", "dsar.on_hold"} <= actions
