"""The audit record over HTTP on both backends: a property's entries, newest first, in words,
for its portfolio manager only; reading it is itself recorded (V6) and shows in the next read.

The entries are made by the real services (history reads, resident status, the retention
override, a data-subject request's steps), not written by hand, except where a test needs a
record no service writes (a detail that looks secret, another property's record).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import Clock, bearer
from keyturn.cloud.models import AuditRecord
from keyturn.cloud.people.service import update_person
from keyturn.cloud.privacy import audit
from keyturn.cloud.privacy.audit_record.service import action_words
from keyturn.cloud.privacy.retention.override import change_override
from worlds import HistoryWorld, make_history_world, tokens


@pytest.fixture
def world(db: Session) -> HistoryWorld:
    built = make_history_world(db)
    db.commit()
    return built


@pytest.fixture
def tokens_of(db: Session, world: HistoryWorld) -> dict[str, str]:
    return tokens(db, world)


def url(world: HistoryWorld) -> str:
    return f"/api/v1/properties/{world.property_id}/audit"


def read(
    client: TestClient, world: HistoryWorld, token: str, clock: Clock, **params: Any
) -> dict[str, Any]:
    """One read of the audit record a minute after the last, so each read is strictly later."""
    clock.advance(minutes=1)
    answer = client.get(url(world), params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def history_read(client: TestClient, world: HistoryWorld, token: str, clock: Clock) -> None:
    clock.advance(minutes=1)
    answer = client.get(f"/api/v1/properties/{world.property_id}/events", headers=bearer(token))
    assert answer.status_code == 200, answer.text


def test_rule_v6_reading_the_audit_record_is_recorded_and_shown_by_the_next_read(
    client: TestClient, world: HistoryWorld, tokens_of: dict[str, str], clock: Clock
) -> None:
    first = read(client, world, tokens_of["owner"], clock)
    second = read(client, world, tokens_of["owner"], clock)

    assert all(item["action"] != "audit.read" for item in first["items"])
    newest = second["items"][0]
    assert newest["action"] == "audit.read"
    assert newest["action_words"] == "read the audit record"
    assert newest["actor"]["person_id"] == world.people["owner"]
    assert newest["detail"]["count"] == len(first["items"])
    assert [item["id"] for item in second["items"][1:]] == [item["id"] for item in first["items"]]


def test_entries_are_newest_first_and_every_one_is_listed_once_across_pages(
    client: TestClient, world: HistoryWorld, tokens_of: dict[str, str], clock: Clock
) -> None:
    for _ in range(4):
        history_read(client, world, tokens_of["manager"], clock)
    full = read(client, world, tokens_of["owner"], clock, limit=100)["items"]

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        more = {"cursor": cursor} if cursor else {}
        page = read(client, world, tokens_of["owner"], clock, limit=2, **more)
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # The full read is the newest entry; the pages' own reads came later than the first page.
    assert (seen[0]["action"], seen[0]["detail"]["count"]) == ("audit.read", len(full))
    assert [item["id"] for item in seen[1:]] == [item["id"] for item in full]
    times = [item["at"] for item in seen]
    assert times == sorted(times, reverse=True)
    assert [item["action"] for item in full].count("history.read") == 4
    # The three resident grants share one instant: the id breaks the tie, pages still agree.
    assert [item["action"] for item in full].count("grant.resident_status") == 3


def test_filters_by_actor_action_family_and_window(
    client: TestClient, world: HistoryWorld, tokens_of: dict[str, str], clock: Clock
) -> None:
    history_read(client, world, tokens_of["manager"], clock)
    history_read(client, world, tokens_of["staff"], clock)
    middle = clock.now + timedelta(seconds=30)
    history_read(client, world, tokens_of["manager"], clock)

    by_manager = read(client, world, tokens_of["owner"], clock, actor=world.people["manager"])
    history = read(client, world, tokens_of["owner"], clock, action="history")
    exact = read(client, world, tokens_of["owner"], clock, action="history.read")
    grants = read(client, world, tokens_of["owner"], clock, action="grant.resident_status")
    window = read(
        client,
        world,
        tokens_of["owner"],
        clock,
        action="history.read",
        since=middle.isoformat(),
        until=clock.now.isoformat(),
    )

    assert [item["actor"]["person_id"] for item in by_manager["items"]] == [
        world.people["manager"]
    ] * 2
    assert [item["action"] for item in history["items"]] == ["history.read"] * 3
    assert exact["items"] == history["items"]
    # Resident status given at world building: one per resident, in the past, by no one.
    assert {item["actor"]["kind"] for item in grants["items"]} == {"system"}
    assert len(grants["items"]) == 3
    assert [item["actor"]["person_id"] for item in window["items"]] == [world.people["manager"]]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"action": "DROP TABLE"}, 422),
        ({"action": "history."}, 422),
        ({"since": "2026-03-02T10:00:00Z", "until": "2026-03-02T09:00:00Z"}, 422),
        ({"since": "2026-03-02T10:00:00"}, 422),
        ({"since": "yesterday"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 101}, 422),
        ({"cursor": "not-a-cursor"}, 400),
    ],
)
def test_bad_filters_are_refused_clearly_and_nothing_is_recorded(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    tokens_of: dict[str, str],
    params: dict[str, Any],
    status: int,
) -> None:
    before = db.scalars(select(AuditRecord.id)).all()

    answer = client.get(url(world), params=params, headers=bearer(tokens_of["owner"]))

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"]
    db.expire_all()
    assert sorted(db.scalars(select(AuditRecord.id)).all()) == sorted(before)


def test_actors_and_subjects_are_named_as_the_portfolio_knows_them(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    tokens_of: dict[str, str],
    clock: Clock,
) -> None:
    update_person(
        session=db,
        property_id=world.property_id,
        person_id=world.people["manager"],
        display_name="Morgan at the front desk",
        is_minor=None,
    )
    db.info[audit.OPERATOR_SESSION] = True  # as every command's session is
    change_override(
        session=db,
        property_id=world.property_id,
        override_days=400,
        actor_person_id=None,
        now=clock.now,
    )
    db.commit()
    del db.info[audit.OPERATOR_SESSION]
    history_read(client, world, tokens_of["manager"], clock)

    items = read(client, world, tokens_of["owner"], clock)["items"]

    reader = next(item for item in items if item["action"] == "history.read")
    assert reader["actor"] == {
        "kind": "person",
        "person_id": world.people["manager"],
        "name": "Morgan at the front desk",
        "email": "manager@example.org",
    }
    override = next(item for item in items if item["action"] == "retention.override")
    assert override["actor"]["kind"] == "operator"
    assert override["actor"]["name"] == "operator (CLI)"
    assert override["subject"] == {"type": "property", "id": world.property_id, "name": "12 Elm St"}
    assert (override["detail"]["before_days"], override["detail"]["after_days"]) == (None, 400)
    assert "by" not in override["detail"]
    resident_status = [item for item in items if item["action"] == "grant.resident_status"]
    assert {item["subject"]["name"] for item in resident_status} == {
        "Unit 1A for resident",
        "Unit 1A for coresident",
        "Unit 2B for neighbour",
    }
    assert {item["actor"]["name"] for item in resident_status} == {"system"}
    for item in resident_status:
        holder = item["subject"]["name"].split(" for ")[1]
        assert item["detail"]["person"] == holder
        assert item["detail"]["key"] == item["subject"]["name"].split(" for ")[0]
        assert item["detail"]["doors"] == [item["detail"]["key"].removeprefix("Unit ")]


def test_only_this_propertys_records_are_listed_and_never_a_secret(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    tokens_of: dict[str, str],
    clock: Clock,
) -> None:
    audit.record(
        db,
        now=clock.now,
        actor_person_id=world.people["owner"],
        action="webhook.create",
        object_type="webhook_subscription",
        property_id=world.property_id,
        detail={"url": "https://example.org/hook", "secret": "s3cr3t", "token_hash": "abc"},
    )
    audit.record(
        db,
        now=clock.now,
        actor_person_id=world.people["owner"],
        action="history.read",
        object_type="events",
        property_id=world.other_property_id,
    )
    db.commit()

    items = read(client, world, tokens_of["owner"], clock)["items"]

    hook = next(item for item in items if item["action"] == "webhook.create")
    assert hook["detail"] == {"url": "https://example.org/hook"}
    assert hook["action_words"] == "subscribed a webhook"
    assert all(item["action"] != "history.read" for item in items)


def test_managers_other_than_the_portfolio_manager_may_not_read_it(
    client: TestClient, world: HistoryWorld, tokens_of: dict[str, str]
) -> None:
    for who in ("manager", "security", "resident"):
        answer = client.get(url(world), headers=bearer(tokens_of[who]))
        assert answer.status_code == 403, who
    outsider = client.get(url(world), headers=bearer(tokens_of["outsider"]))
    assert outsider.status_code == 404


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("history.read", "read access history"),
        ("dsar.on_hold", "data-subject request: on hold"),
        ("dsar.records_held", "data-subject request: records held"),
        ("lockdown.lifted", "lockdown: lifted"),
        ("retention", "retention"),
    ],
)
def test_an_action_without_words_of_its_own_is_spelled_from_its_code(
    action: str, words: str
) -> None:
    assert action_words(action) == words
