"""Reviewers (whoever may review requests at the property, and only they) are mailed when a
request arrives and when one nears a deadline, each notice once however many runs look.

Mail goes through a real SMTP server; the texts carry no requester's details and no code.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from factories import T0, Clock, bearer, make_member
from keyturn.cloud import db as database
from keyturn.cloud import sessions
from keyturn.cloud.models import ReviewerNotice
from keyturn.cloud.privacy.requests import add_business_days
from keyturn.cloud.privacy.reviewer_notices import run_deadline_check
from keyturn.rules.types import Role
from smtp_server import delivered, received_by
from worlds import HistoryWorld, make_app, make_history_world, tokens

NEW = "A new data request to review"
ACK_SOON = "A data request is near its acknowledgement deadline"
ANSWER_SOON = "A data request is near its answer deadline"
EVERYONE = ("owner", "manager", "security", "staff", "resident", "guest", "outsider")


@pytest.fixture
def world(db: Session) -> HistoryWorld:
    built = make_history_world(db)
    # A portfolio manager of another portfolio is nobody's reviewer here.
    make_member(
        db,
        email="oak-owner@example.org",
        property_id=built.other_property_id,
        role=Role.PORTFOLIO_MANAGER,
    )
    db.commit()
    return built


@pytest.fixture
def auth(db: Session, world: HistoryWorld) -> dict[str, dict[str, str]]:
    return {name: bearer(token) for name, token in tokens(db, world).items()}


def phoned(client: TestClient, world: HistoryWorld, headers: dict[str, str]) -> Any:
    answer = client.post(
        f"/api/v1/properties/{world.property_id}/data-requests",
        json={
            "kind": "deletion",
            "channel": "phone",
            "requester_name": "Ana Pérez",
            "requester_phone": "+1 415 555 0134",
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def subjects(engine: Engine, tmp_path: Path) -> dict[str, list[str]]:
    mailbox = delivered(engine, tmp_path)
    return {
        name: [subject for subject, _ in received_by(mailbox, f"{name}@example.org")]
        for name in (*EVERYONE, "oak-owner")
    }


def test_reviewers_and_only_they_are_told_of_a_new_request(
    client: TestClient,
    engine: Engine,
    tmp_path: Path,
    world: HistoryWorld,
    auth: dict[str, dict[str, str]],
) -> None:
    filed = phoned(client, world, auth["owner"])

    mailbox = delivered(engine, tmp_path)

    told = {name: received_by(mailbox, f"{name}@example.org") for name in (*EVERYONE, "oak-owner")}
    assert {name for name, mails in told.items() if mails} == {"owner"}
    [(subject, text)] = told["owner"]
    assert subject == NEW
    assert "deletion request arrived on 2026-03-02 by phone" in text
    assert f"/api/v1/data-requests/{filed['id']}" in text
    assert "Ana" not in text
    assert "555" not in text


def test_a_public_request_is_told_to_reviewers_once_its_code_confirms_it(
    client: TestClient, engine: Engine, tmp_path: Path, world: HistoryWorld
) -> None:
    sent = client.post(
        "/api/v1/data-requests/public",
        json={"email": "ana@parcels.test", "name": "Ana", "kind": "copy", "property": "12 elm st"},
    ).json()
    mailbox = delivered(engine, tmp_path)
    assert received_by(mailbox, "owner@example.org") == []
    [(_, text)] = received_by(mailbox, "ana@parcels.test")
    code = re.search(r"code (\d+)", text)
    assert code is not None

    client.post(f"/api/v1/data-requests/public/{sent['id']}/verify", json={"code": code[1]})

    after = delivered(engine, tmp_path)
    [(subject, notice)] = received_by(after, "owner@example.org")
    assert (subject, "by web form" in notice) == (NEW, True)
    assert code[1] not in notice
    assert "ana@parcels.test" not in notice


def test_a_near_deadline_notice_is_sent_once_by_two_job_runs(
    client: TestClient,
    db: Session,
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    world: HistoryWorld,
    auth: dict[str, dict[str, str]],
) -> None:
    filed = phoned(client, world, auth["owner"])
    subjects(engine, tmp_path)  # the new-request notice, read
    # Two servers, each with its own engine on the same database.
    other_engine = database.make_engine(db_url)
    runs = [sessions.session_factory(engine), sessions.session_factory(other_engine)]
    acknowledge_by = add_business_days(T0, 10)
    try:
        quiet = [run_deadline_check(run, T0 + timedelta(days=1)).notices for run in runs]
        warn_at = add_business_days(acknowledge_by, -3)
        near = [run_deadline_check(run, warn_at).notices for run in runs]
        mail = subjects(engine, tmp_path)
        later = [run_deadline_check(run, T0 + timedelta(days=38)).notices for run in runs]
        answer_mail = subjects(engine, tmp_path)
    finally:
        other_engine.dispose()

    assert quiet == [0, 0]
    assert near == [1, 0]
    assert mail["owner"] == [ACK_SOON]
    assert [name for name, got in mail.items() if got] == ["owner"]
    assert later == [1, 0]  # the answer deadline; the acknowledgement one was told already
    assert answer_mail["owner"] == [ANSWER_SOON]
    kinds = db.scalars(select(ReviewerNotice.kind).order_by(ReviewerNotice.kind)).all()
    assert kinds == [
        f"acknowledge_by:{acknowledge_by:%Y-%m-%d}",
        f"answer_by:{T0 + timedelta(days=45):%Y-%m-%d}",
        "new",
    ]
    assert filed["acknowledged_at"] is None


def test_an_acknowledged_or_closed_request_is_not_warned_and_an_extension_is(
    client: TestClient,
    db: Session,
    engine: Engine,
    tmp_path: Path,
    world: HistoryWorld,
    auth: dict[str, dict[str, str]],
) -> None:
    filed = phoned(client, world, auth["owner"])
    refused = phoned(client, world, auth["owner"])
    client.post(f"/api/v1/data-requests/{filed['id']}/acknowledge", headers=auth["owner"])
    client.post(
        f"/api/v1/data-requests/{refused['id']}/refuse",
        json={"reason": "Fraud investigation"},
        headers=auth["owner"],
    )
    factory = sessions.session_factory(engine)
    assert run_deadline_check(factory, add_business_days(T0, 8)).notices == 0
    assert run_deadline_check(factory, T0 + timedelta(days=40)).notices == 1
    client.post(
        f"/api/v1/data-requests/{filed['id']}/extend",
        json={"reason": "Many records to review"},
        headers=auth["owner"],
    )

    assert run_deadline_check(factory, T0 + timedelta(days=41)).notices == 0
    assert run_deadline_check(factory, T0 + timedelta(days=84)).notices == 1
    count = db.scalar(select(func.count(ReviewerNotice.id)))
    assert count == 4  # two new-request notices, the answer deadline, the extended one


def test_the_server_runs_the_deadline_check_as_a_job(
    engine: Engine, db_url: str, tmp_path: Path, db: Session, world: HistoryWorld
) -> None:
    clock = Clock()
    app: FastAPI = make_app(engine, db_url, tmp_path, clock, dsar_notice_interval_s=3600)
    owner = tokens(db, world)["owner"]
    with TestClient(app, base_url="https://testserver") as client:
        phoned(client, world, bearer(owner))
        job = app.state.dsar_notices_schedule
        assert job.interval_s == 3600
        clock.now = T0 + timedelta(days=40)
        outcome = job.run_once()

    assert outcome == {"notices": 2, "expired_public_requests": 0}


def test_two_servers_checking_at_once_send_a_notice_once(
    client: TestClient,
    db: Session,
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    world: HistoryWorld,
    auth: dict[str, dict[str, str]],
) -> None:
    phoned(client, world, auth["owner"])
    subjects(engine, tmp_path)
    engines = [engine, database.make_engine(db_url)]
    start = threading.Barrier(len(engines))
    sent: list[int] = []

    def server(on: Engine) -> None:
        start.wait()
        sent.append(
            run_deadline_check(sessions.session_factory(on), T0 + timedelta(days=40)).notices
        )

    threads = [threading.Thread(target=server, args=(on,)) for on in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        engines[1].dispose()

    assert sum(sent) == 2  # each of the two notices by one server or the other
    assert sorted(subjects(engine, tmp_path)["owner"]) == sorted([ACK_SOON, ANSWER_SOON])
