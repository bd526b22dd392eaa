"""A reviewer files a request someone made by email, phone, post or in person: the channel
is recorded and shown, deadlines run from when it was received, and it waits for approval.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from factories import T0, Clock, bearer, make_member
from keyturn.cloud.models import AuditRecord, DataSubjectRequest
from keyturn.cloud.privacy.requests import add_business_days
from keyturn.rules.types import Role
from smtp_server import delivered, received_by
from worlds import HistoryWorld, make_history_world, tokens


@pytest.fixture
def world(db: Session) -> HistoryWorld:
    built = make_history_world(db)
    db.commit()
    return built


@pytest.fixture
def auth(db: Session, world: HistoryWorld) -> dict[str, dict[str, str]]:
    return {name: bearer(token) for name, token in tokens(db, world).items()}


def file(client: TestClient, world: HistoryWorld, headers: dict[str, str], **body: Any) -> Any:
    sent = {"kind": "copy", "channel": "phone", "requester_name": "Ana Pérez", **body}
    return client.post(
        f"/api/v1/properties/{world.property_id}/data-requests", json=sent, headers=headers
    )


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_rule_d9_deadlines_run_from_when_a_phoned_request_was_received(
    client: TestClient,
    clock: Clock,
    world: HistoryWorld,
    auth: dict[str, dict[str, str]],
) -> None:
    received = T0 - timedelta(days=10)

    filed = file(
        client,
        world,
        auth["owner"],
        requester_phone="+1 415 555 0134",
        received_at=received.isoformat(),
        note="Called the front desk.",
    )

    assert filed.status_code == 201, filed.text
    shown = filed.json()
    assert shown["channel"] == "phone"
    assert when(shown["received_at"]) == received
    assert when(shown["acknowledge_by"]) == add_business_days(received, 10)
    assert when(shown["due_at"]) == when(shown["answer_by"]) == received + timedelta(days=45)
    # Reached by phone only: nobody was mailed, so the request is not acknowledged yet.
    assert shown["acknowledged_at"] is None
    assert shown["overdue"] == []
    clock.now = add_business_days(received, 10) + timedelta(minutes=1)
    late = client.get(f"/api/v1/data-requests/{shown['id']}", headers=auth["owner"]).json()
    assert late["overdue"] == ["acknowledgement overdue"]
    told = client.post(f"/api/v1/data-requests/{shown['id']}/acknowledge", headers=auth["owner"])
    assert when(told.json()["acknowledged_at"]) == clock.now
    assert told.json()["overdue"] == []
    clock.now = received + timedelta(days=45, minutes=1)
    later = client.get(f"/api/v1/data-requests/{shown['id']}", headers=auth["owner"]).json()
    assert later["overdue"] == ["answer overdue"]


def test_the_request_log_lists_each_requests_channel(
    client: TestClient, db: Session, world: HistoryWorld, auth: dict[str, dict[str, str]]
) -> None:
    for channel in ("phone", "post", "in_person"):
        file(client, world, auth["owner"], channel=channel, requester_phone="+1 415 555 0134")
    own = client.post(
        "/api/v1/account/data-requests", json={"kind": "copy"}, headers=auth["resident"]
    )

    log = client.get(
        f"/api/v1/properties/{world.property_id}/data-requests", headers=auth["owner"]
    ).json()["items"]

    assert sorted(item["channel"] for item in log) == ["app", "in_person", "phone", "post"]
    assert own.json()["channel"] == "app"
    audited = db.scalars(
        select(AuditRecord.detail).where(AuditRecord.action == "dsar.received")
    ).all()
    assert sorted(detail["channel"] for detail in audited) == [
        "app",
        "in_person",
        "phone",
        "post",
    ]


def test_an_emailed_request_is_acknowledged_by_mail_and_matched_to_its_person(
    client: TestClient,
    engine: Engine,
    tmp_path: Path,
    world: HistoryWorld,
    auth: dict[str, dict[str, str]],
) -> None:
    filed = file(
        client, world, auth["owner"], channel="email", requester_email="Guest@Example.org"
    ).json()

    assert filed["match"] == f"matches person guest ({world.people['guest']})"
    assert filed["acknowledged_at"] is not None
    assert filed["identity"] == "not verified: check who asked"
    mailbox = delivered(engine, tmp_path)
    assert [subject for subject, _ in received_by(mailbox, "guest@example.org")] == [
        "We received your data request"
    ]


def test_rule_d2_a_filed_request_is_verified_only_by_a_reviewers_approval(
    client: TestClient, world: HistoryWorld, auth: dict[str, dict[str, str]]
) -> None:
    filed = file(
        client, world, auth["owner"], person_id=world.people["resident"], requester_phone="1"
    ).json()
    assert filed["state"] == "verifying"
    early = client.post(
        f"/api/v1/account/data-requests/{filed['id']}/copy", headers=auth["resident"]
    )
    assert early.status_code == 409

    approved = client.post(f"/api/v1/data-requests/{filed['id']}/approve", headers=auth["owner"])

    assert approved.json()["state"] == "in_progress"
    assert approved.json()["identity"] == "verified"
    copy = client.post(
        f"/api/v1/account/data-requests/{filed['id']}/copy", headers=auth["resident"]
    )
    assert copy.status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"requester_phone": "1", "received_at": (T0 + timedelta(hours=1)).isoformat()}, 422),
        ({"requester_phone": "1", "received_at": "2026-03-01T09:00:00"}, 422),
        ({}, 422),
        ({"requester_email": "not an address"}, 422),
        ({"requester_phone": "1", "channel": "carrier pigeon"}, 422),
        ({"requester_phone": "1", "requester_name": " "}, 422),
        ({"requester_phone": "1", "person_id": "6f1c0a4e-0000-4000-8000-000000000001"}, 404),
    ],
)
def test_a_filing_that_cannot_be_taken_is_refused_and_keeps_nothing(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    auth: dict[str, dict[str, str]],
    body: dict[str, str],
    status: int,
) -> None:
    answer = file(client, world, auth["owner"], **body)

    assert answer.status_code == status, answer.text
    assert db.scalars(select(DataSubjectRequest)).all() == []


def test_a_person_of_another_portfolio_cannot_be_named(
    client: TestClient, db: Session, world: HistoryWorld, auth: dict[str, dict[str, str]]
) -> None:
    stranger = make_member(
        db, email="oak@example.org", property_id=world.other_property_id, role=Role.STAFF
    )
    db.commit()

    answer = file(client, world, auth["owner"], requester_phone="1", person_id=stranger.id)

    assert answer.status_code == 404


def test_only_reviewers_file_for_others(
    client: TestClient, world: HistoryWorld, auth: dict[str, dict[str, str]]
) -> None:
    statuses = {
        name: file(client, world, auth[name], requester_phone="1").status_code
        for name in ("manager", "security", "resident", "outsider")
    }

    assert statuses == {"manager": 403, "security": 403, "resident": 403, "outsider": 404}


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=st.just(UTC),
    ),
    days=st.integers(min_value=1, max_value=60),
)
def test_rule_d9_business_days_count_back_as_they_count_forward(start: datetime, days: int) -> None:
    """The warning before the acknowledgement deadline counts business days back with the same
    rule that set the deadline: back and forth again lands on the deadline."""
    later = add_business_days(start, days)
    earlier = add_business_days(later, -days)

    assert later.weekday() < 5
    assert earlier.weekday() < 5
    assert later - start >= timedelta(days=days)
    assert add_business_days(earlier, days) == later
    if start.weekday() < 5:
        assert earlier == start


def test_the_person_sees_their_request_but_not_the_reviewers_notes_or_match(
    client: TestClient, world: HistoryWorld, auth: dict[str, dict[str, str]]
) -> None:
    filed = file(
        client,
        world,
        auth["owner"],
        person_id=world.people["resident"],
        requester_phone="+1 415 555 0134",
        note="Sounded unsure of the unit number.",
    ).json()

    own = client.get(f"/api/v1/account/data-requests/{filed['id']}", headers=auth["resident"])

    assert own.status_code == 200
    seen = own.json()
    assert (seen["channel"], seen["kind"]) == ("phone", "copy")
    hidden = ("match", "person_id", "note", "requester_name", "requester_phone")
    assert {name: seen[name] for name in hidden} == dict.fromkeys(hidden)
    assert filed["note"] == "Sounded unsure of the unit number."
