from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import sign_challenge
from keyturn.lock.near_field import PROTOCOL, NearField
from keyturn.protocol.messages import ScheduleSpec, WindowSpec
from keyturn.rules.types import CredentialType, Reason
from lock.harness import Harness

PHONE = SigningKeyPair.generate()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def near(harness: Harness) -> Iterator[NearField]:
    with NearField(harness.lock, test_clock=harness.clock) as service:
        yield service


@pytest.fixture
def client(near: NearField) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=near.url, timeout=10) as http:
        yield http


def answer(client: httpx.Client, token: bytes, door_id: str = "door-1") -> httpx.Response:
    challenge = unb64(client.post("/challenge").json()["challenge"])
    signature = sign_challenge(PHONE, challenge, door_id)
    return client.post("/unlock", json={"token": b64(token), "signature": b64(signature)})


def test_hello_names_the_protocol_and_the_door(client: httpx.Client) -> None:
    hello = client.get("/hello").json()
    assert hello == {"protocol": PROTOCOL, "door_id": "door-1", "device_id": "lock-1"}


def test_phone_signed_answer_is_granted_and_journalled(
    harness: Harness, client: httpx.Client
) -> None:
    challenge = client.post("/challenge").json()["challenge"]
    assert len(unb64(challenge)) == 16
    signature = sign_challenge(PHONE, unb64(challenge), "door-1")
    token = harness.token(PHONE, subject="bob", credential_id="mk-bob", resident=True)
    response = client.post("/unlock", json={"token": b64(token), "signature": b64(signature)})
    assert response.status_code == 200
    assert response.json() == {
        "granted": True,
        "reason": "granted",
        "message": "Unlocked.",
        "detail": None,
    }
    (record,) = harness.lock.journal.entries(harness.lock.journal.last_seq)
    assert record.credential_type is CredentialType.MOBILE_KEY
    assert (record.subject, record.reason) == ("bob", Reason.GRANTED)


def test_replayed_answer_is_refused_in_words(harness: Harness, client: httpx.Client) -> None:
    token = harness.token(PHONE)
    challenge = unb64(client.post("/challenge").json()["challenge"])
    body = {"token": b64(token), "signature": b64(sign_challenge(PHONE, challenge, "door-1"))}
    assert client.post("/unlock", json=body).json()["granted"] is True
    replay = client.post("/unlock", json=body).json()
    assert replay["granted"] is False
    assert replay["detail"] == "challenge_not_outstanding"
    assert "already answered" in replay["message"]


def test_token_for_another_door_is_refused(harness: Harness, client: httpx.Client) -> None:
    refused = answer(client, harness.token(PHONE, door_ids=["door-2"])).json()
    assert (refused["granted"], refused["reason"]) == (False, "wrong_door")
    assert refused["message"] == "This key does not open this door."
    journal = harness.lock.journal
    (record,) = journal.entries(journal.last_seq)
    assert record.reason is Reason.WRONG_DOOR


def test_outside_the_weekly_hours_is_refused_in_the_holders_words(
    harness: Harness, client: httpx.Client
) -> None:
    away = (harness.now().weekday() + 3) % 7  # not today in any time zone
    token = harness.token(PHONE, schedule=ScheduleSpec(windows=(WindowSpec(away, 0, 1440),)))
    refused = answer(client, token).json()
    assert (refused["granted"], refused["reason"]) == (False, "outside_schedule")
    assert refused["message"].startswith("Outside your weekly hours")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"token": "AAAA"}', "'signature'"),
        (b'{"token": "!!", "signature": "AAAA"}', "'token' is not base64url"),
        (b'{"token": "AAAA", "signature": "AAAA"}', "not a COSE_Sign1"),
    ],
)
def test_unreadable_unlock_is_a_400_with_the_reason(
    harness: Harness, client: httpx.Client, body: bytes, words: str
) -> None:
    before = harness.lock.journal.last_seq
    response = client.post("/unlock", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert harness.lock.journal.last_seq == before


def test_cors_preflight_is_open_to_any_origin_and_private_network(client: httpx.Client) -> None:
    response = client.options(
        "/unlock",
        headers={
            "Origin": "http://127.0.0.1:8000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-private-network"] == "true"
    assert "set-cookie" not in response.headers
    assert client.get("/hello").headers["access-control-allow-origin"] == "*"


def test_test_clock_moves_the_lock_and_expires_a_key(
    harness: Harness, client: httpx.Client
) -> None:
    token = harness.token(PHONE, expires=harness.now() + timedelta(hours=1))
    later = (harness.now() + timedelta(hours=2)).isoformat()
    assert client.post("/test/clock", json={"at": later}).status_code == 200
    refused = answer(client, token).json()
    assert (refused["granted"], refused["detail"]) == (False, "token_expired")
    assert client.post("/test/clock", json={"at": "yesterday"}).status_code == 400


def test_test_clock_sets_the_locks_time_whatever_signed_time_taught_it(
    harness: Harness, client: httpx.Client
) -> None:
    # A sync found the lock 90 s slow: its time is now the hardware clock plus 90 s.
    harness.lock.clock.learn(harness.clock.millis() + 90_000, None)
    later = harness.now() + timedelta(hours=2)
    moved = client.post("/test/clock", json={"at": later.isoformat()})
    assert moved.json() == {"lock_time": later.isoformat()}
    assert harness.lock.clock.now() == later


def test_test_clock_is_absent_without_the_flag(harness: Harness) -> None:
    with NearField(harness.lock) as service, httpx.Client(base_url=service.url) as http:
        assert http.post("/test/clock", json={"at": harness.now().isoformat()}).status_code == 404


def test_status_reports_the_url_while_serving(harness: Harness) -> None:
    with NearField(harness.lock) as service:
        harness.sync()
        assert harness.cloud_status is not None
        assert harness.cloud_status.near_field_url == service.url
    harness.sync()
    assert harness.cloud_status.near_field_url is None
