"""Webhooks end to end: subscribing over the API, queueing at ingest, signed delivery, retries.

Deliveries go to a real HTTP receiver on 127.0.0.1 in a thread; the tests verify each
signature with the secret the API showed once, and that V-rules hide what they must. That
receiver is a private address, so these tests allow private targets, except the ones that
check they are refused by default.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, Clock, bearer, provision_lock
from keyturn.cloud.models import (
    AuditRecord,
    Event,
    RoleMembership,
    WebhookDelivery,
    WebhookSubscription,
)
from keyturn.cloud.sessions import session_factory
from keyturn.cloud.webhooks.delivery import (
    CLAIM_DURATION,
    MAX_ATTEMPTS,
    deliver_webhooks,
    retry_delay,
)
from keyturn.cloud.webhooks.egress import is_public, webhook_client
from keyturn.cloud.webhooks.service import (
    InvalidWebhookUrl,
    check_url,
    enqueue_device_events,
    enqueue_event_deliveries,
    subscription_secret,
)
from worlds import HistoryWorld, add_event, make_app, make_history_world, tokens


@dataclass
class Receiver:
    """An HTTP server on a free local port that records requests and answers as told."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    # Called in the server's thread while a request waits for its answer.
    on_request: Callable[[], None] | None = None

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            box[0].received.append((dict(self.headers.items()), body))
            if box[0].on_request is not None:
                box[0].on_request()
            self.send_response(box[0].answer())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def app(engine: Engine, db_url: str, tmp_path: Path, clock: Clock) -> FastAPI:
    """The app, allowed to deliver to this machine's receiver."""
    return make_app(engine, db_url, tmp_path, clock, webhook_private_targets=True)


@pytest.fixture
def world(db: Session) -> HistoryWorld:
    built = make_history_world(db)
    db.commit()
    return built


@pytest.fixture
def token(db: Session, world: HistoryWorld) -> dict[str, str]:
    return tokens(db, world)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with webhook_client(allow_private=True, timeout_s=5) as opened:
        yield opened


@pytest.fixture
def subscription(
    client: TestClient, world: HistoryWorld, token: dict[str, str], receiver: Receiver
) -> dict[str, Any]:
    """The manager's subscription of the receiver, as the API answered its creation."""
    return _subscribe(client, world, token["manager"], receiver.url)


def _subscribe(client: TestClient, world: HistoryWorld, token: str, url: str) -> dict[str, Any]:
    answer = client.post(
        f"/api/v1/properties/{world.property_id}/webhooks",
        json={"url": url, "description": "front desk"},
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _door_events(db: Session, world: HistoryWorld) -> list[Event]:
    """A resident's own entry at home, a guest's entry there, and staff at the gym."""
    events = [
        add_event(db, world, "resident_home", "1A", "resident", by_resident=True, minutes=1),
        add_event(db, world, "guest_at_1A", "1A", "guest", granted_by="resident", minutes=2),
        add_event(db, world, "staff_at_gym", "gym", "staff", minutes=3),
    ]
    db.commit()
    return events


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in headers["X-Keyturn-Signature"].split(","))
    signed = f"{fields['t']}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def _deliver(engine: Engine, http: httpx.Client, now: datetime) -> Any:
    return deliver_webhooks(session_factory(engine), MASTER_KEY, now, http)


def test_rule_v1_webhooks_never_carry_a_residents_own_entry_and_are_signed(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    receiver: Receiver,
    http: httpx.Client,
    subscription: dict[str, Any],
) -> None:
    events = _door_events(db, world)

    queued = enqueue_event_deliveries(db, events, T0)
    db.commit()
    report = _deliver(engine, http, T0)

    assert queued == 2
    assert report.delivered == 2
    sent = {json.loads(body)["event"]["id"] for _, body in receiver.received}
    assert sent == {world.events["guest_at_1A"].id, world.events["staff_at_gym"].id}
    for headers, body in receiver.received:
        assert _verify(subscription["secret"], headers, body)
        assert headers["X-Keyturn-Signature"].startswith(f"t={int(T0.timestamp())},v1=")
        assert not _verify("whsec_wrong", headers, body)
    payload = json.loads(receiver.received[0][1])
    assert payload["type"] == "door.event"
    assert payload["property_id"] == world.property_id
    assert set(payload["event"]) >= {"door_kind", "outcome", "subject_id", "has_photo"}


def test_rule_v6_each_delivered_event_is_an_audited_disclosure(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    http: httpx.Client,
    subscription: dict[str, Any],
) -> None:
    enqueue_event_deliveries(db, _door_events(db, world), T0)
    db.commit()
    _deliver(engine, http, T0)

    db.expire_all()
    audited = db.scalars(select(AuditRecord).where(AuditRecord.action == "webhook.deliver")).all()
    assert {a.object_id for a in audited} == {
        world.events["guest_at_1A"].id,
        world.events["staff_at_gym"].id,
    }
    assert {a.actor_person_id for a in audited} == {world.people["manager"]}
    created = db.scalars(select(AuditRecord).where(AuditRecord.action == "webhook.create")).all()
    assert len(created) == 1


def test_failed_deliveries_back_off_then_succeed(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    receiver: Receiver,
    http: httpx.Client,
    subscription: dict[str, Any],
) -> None:
    enqueue_event_deliveries(db, [_door_events(db, world)[2]], T0)
    db.commit()
    receiver.statuses = [500, 503]

    first = _deliver(engine, http, T0)
    too_soon = _deliver(engine, http, T0 + retry_delay(1) - timedelta(seconds=1))
    second = _deliver(engine, http, T0 + retry_delay(1))
    third = _deliver(engine, http, T0 + retry_delay(1) + retry_delay(2))

    assert (first.retrying, too_soon.retrying, second.retrying) == (1, 0, 1)
    assert third.delivered == 1
    assert len(receiver.received) == 3
    assert retry_delay(2) == 2 * retry_delay(1)
    db.expire_all()
    delivery = db.scalars(select(WebhookDelivery)).one()
    assert delivery.attempts == 3
    assert delivery.delivered_at is not None
    assert delivery.last_status == 200


def test_a_delivery_being_sent_is_not_sent_again_by_another_sender(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    receiver: Receiver,
    http: httpx.Client,
    subscription: dict[str, Any],
) -> None:
    enqueue_event_deliveries(db, [_door_events(db, world)[2]], T0)
    db.commit()
    meanwhile: list[Any] = []

    def second_sender() -> None:
        with webhook_client(allow_private=True, timeout_s=5) as other:
            meanwhile.append(_deliver(engine, other, T0))

    receiver.on_request = second_sender
    first = _deliver(engine, http, T0)

    assert first.delivered == 1
    assert meanwhile[0].delivered + meanwhile[0].retrying + meanwhile[0].abandoned == 0
    assert len(receiver.received) == 1


def test_a_claim_left_by_a_sender_that_died_is_sent_when_it_runs_out(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    receiver: Receiver,
    http: httpx.Client,
    subscription: dict[str, Any],
) -> None:
    enqueue_event_deliveries(db, [_door_events(db, world)[2]], T0)
    db.commit()

    def die(_request: httpx.Request) -> httpx.Response:
        raise SystemExit("the sender died mid-send")

    with httpx.Client(transport=httpx.MockTransport(die)) as dying, pytest.raises(SystemExit):
        _deliver(engine, dying, T0)
    during_claim = _deliver(engine, http, T0 + CLAIM_DURATION - timedelta(seconds=1))
    after_claim = _deliver(engine, http, T0 + CLAIM_DURATION)

    assert during_claim.delivered == 0
    assert after_claim.delivered == 1
    assert len(receiver.received) == 1


def test_deliveries_give_up_after_the_last_attempt(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    receiver: Receiver,
    http: httpx.Client,
    subscription: dict[str, Any],
) -> None:
    enqueue_event_deliveries(db, [_door_events(db, world)[2]], T0)
    db.commit()
    receiver.statuses = [500] * (MAX_ATTEMPTS + 2)

    now = T0
    abandoned = 0
    for attempt in range(1, MAX_ATTEMPTS + 2):
        abandoned += _deliver(engine, http, now).abandoned
        now += retry_delay(attempt)

    assert len(receiver.received) == MAX_ATTEMPTS
    assert abandoned == 1
    db.expire_all()
    delivery = db.scalars(select(WebhookDelivery)).one()
    assert delivery.abandoned_at is not None
    assert delivery.delivered_at is None
    assert delivery.last_error == "the receiver answered 500"


def test_an_unreachable_receiver_is_retried_with_the_error_recorded(
    client: TestClient, db: Session, engine: Engine, world: HistoryWorld, token: dict[str, str]
) -> None:
    _subscribe(client, world, token["manager"], "http://127.0.0.1:9/closed")
    enqueue_event_deliveries(db, [_door_events(db, world)[2]], T0)
    db.commit()

    with webhook_client(allow_private=True, timeout_s=5) as http:
        report = _deliver(engine, http, T0)

    assert report.retrying == 1
    db.expire_all()
    delivery = db.scalars(select(WebhookDelivery)).one()
    assert delivery.last_status is None
    assert delivery.last_error is not None
    assert delivery.next_attempt_at == T0 + retry_delay(1)


def test_a_manager_who_lost_the_role_gets_nothing_more(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    receiver: Receiver,
    http: httpx.Client,
    subscription: dict[str, Any],
) -> None:
    enqueue_event_deliveries(db, _door_events(db, world), T0)
    db.execute(delete(RoleMembership).where(RoleMembership.person_id == world.people["manager"]))
    db.commit()

    report = _deliver(engine, http, T0)
    later = add_event(db, world, "staff_again", "gym", "staff", minutes=4)

    assert report.abandoned == 2
    assert receiver.received == []
    assert enqueue_event_deliveries(db, [later], T0) == 0


def test_replayed_ingest_queues_nothing_twice(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    token: dict[str, str],
    receiver: Receiver,
    subscription: dict[str, Any],
) -> None:
    _subscribe(client, world, token["security"], receiver.url)
    device_id = provision_lock(db, door_id=world.doors["gym"].id).device_id
    staff = add_event(db, world, "staff_at_gym", "gym", "staff")
    staff.device_id = device_id
    db.flush()

    first = enqueue_device_events(db, device_id, [staff.device_seq], T0)
    enqueue_device_events(db, device_id, [staff.device_seq], T0)
    db.commit()

    assert first == 2
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 2


def test_the_secret_is_shown_once_and_rests_sealed(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    token: dict[str, str],
    subscription: dict[str, Any],
) -> None:
    listed = client.get(
        f"/api/v1/properties/{world.property_id}/webhooks", headers=bearer(token["owner"])
    )

    assert subscription["secret"].startswith("whsec_")
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == subscription["id"]
    assert "secret" not in item
    row = db.get_one(WebhookSubscription, subscription["id"])
    assert subscription["secret"].encode() not in row.secret_sealed
    assert subscription_secret(MASTER_KEY, row) == subscription["secret"].encode()


def test_only_managers_of_the_property_manage_its_webhooks(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str], receiver: Receiver
) -> None:
    url = f"/api/v1/properties/{world.property_id}/webhooks"
    foreign = f"/api/v1/properties/{world.other_property_id}/webhooks"
    body = {"url": receiver.url}

    assert client.post(url, json=body, headers=bearer(token["resident"])).status_code == 403
    assert client.get(url, headers=bearer(token["staff"])).status_code == 403
    assert client.post(foreign, json=body, headers=bearer(token["manager"])).status_code == 404
    assert client.get(url, headers=bearer(token["outsider"])).status_code == 404
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_deleting_a_subscription_drops_its_queue(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    token: dict[str, str],
    subscription: dict[str, Any],
) -> None:
    enqueue_event_deliveries(db, _door_events(db, world), T0)
    db.commit()
    url = f"/api/v1/properties/{world.property_id}/webhooks/{subscription['id']}"
    elsewhere = f"/api/v1/properties/{world.other_property_id}/webhooks/{subscription['id']}"

    assert client.delete(elsewhere, headers=bearer(token["manager"])).status_code == 404
    assert client.delete(url, headers=bearer(token["manager"])).status_code == 204
    assert client.delete(url, headers=bearer(token["manager"])).status_code == 404
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.org/keyturn",
        "ftp://127.0.0.1/hook",
        "https://user:pw@hooks.example.org/",
        "/relative/path",
        "https://" + "a" * 2050 + ".org/",
    ],
)
def test_webhook_urls_must_be_https_except_to_this_machine(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str], url: str
) -> None:
    answer = client.post(
        f"/api/v1/properties/{world.property_id}/webhooks",
        json={"url": url},
        headers=bearer(token["manager"]),
    )

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"][-1] == "url"
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_loopback_http_and_any_https_url_are_accepted() -> None:
    for url in (
        "https://hooks.example.org/k",
        "http://127.0.0.1:8080/h",
        "http://localhost/h",
        "http://[::1]:9/h",
    ):
        assert check_url(url) == url
    with pytest.raises(InvalidWebhookUrl):
        check_url("http://127.0.0.1.example.org/h")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[fd00::1]/hook",
    ],
)
def test_webhooks_into_the_servers_own_network_are_refused_by_default(
    engine: Engine, db_url: str, tmp_path: Path, db: Session, world: HistoryWorld, url: str
) -> None:
    app = make_app(engine, db_url, tmp_path, Clock())
    with TestClient(app, base_url="https://testserver") as client:
        answer = client.post(
            f"/api/v1/properties/{world.property_id}/webhooks",
            json={"url": url},
            headers=bearer(tokens(db, world)["manager"]),
        )

    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/webhook-private-target")
    assert db.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_deliveries_never_connect_to_a_private_address_by_default(
    db: Session,
    engine: Engine,
    world: HistoryWorld,
    subscription: dict[str, Any],
    receiver: Receiver,
) -> None:
    enqueue_event_deliveries(db, [_door_events(db, world)[2]], T0)
    db.commit()

    with webhook_client(allow_private=False, timeout_s=5) as guarded:
        report = _deliver(engine, guarded, T0)

    assert report.retrying == 1
    assert receiver.received == []
    db.expire_all()
    delivery = db.scalars(select(WebhookDelivery)).one()
    assert delivery.last_error is not None
    assert "127.0.0.1" in delivery.last_error
    assert "not a public address" in delivery.last_error


@pytest.mark.parametrize(
    "answers", [["127.0.0.1"], ["10.1.2.3"], ["93.184.216.34", "169.254.169.254"]]
)
def test_a_name_that_resolves_to_any_private_address_is_refused(answers: list[str]) -> None:
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return answers

    with (
        webhook_client(allow_private=False, timeout_s=5, resolver=resolver) as guarded,
        pytest.raises(httpx.ConnectError, match="not a public address"),
    ):
        guarded.post("https://hooks.example.test/keyturn", content=b"{}")
    assert asked == [("hooks.example.test", 443)]


def test_the_connection_goes_to_the_address_that_was_checked(receiver: Receiver) -> None:
    port = httpx.URL(receiver.url).port
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])

    # A rebinding resolver answers differently each time; only the first answer is used.
    with webhook_client(
        allow_private=True, timeout_s=5, resolver=lambda _host, _port: next(answers)
    ) as pinned:
        answer = pinned.post(f"http://hooks.example.test:{port}/hook", content=b"{}")

    assert answer.status_code == 200
    headers, body = receiver.received[0]
    assert headers["Host"] == f"hooks.example.test:{port}"
    assert body == b"{}"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1::", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("::ffff:192.168.0.1", False),
        ("fe80::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    from ipaddress import ip_address

    assert is_public(ip_address(address)) is public
