"""End-to-end tests of the devices routes over HTTP, in process, on both backends.

A fake lock enrols with a token from `keyturn device enroll`, syncs, and opens the
Downlink with the authority's public key; refusals are RFC 9457 problems.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest
from fake_lock import NOW, FakeLock, attempt, public_key_text
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from factories import Clock
from keyturn.cli.main import cli
from keyturn.cloud.auth.permissions import Scope
from keyturn.cloud.auth.service import issue_token
from keyturn.cloud.devices.errors import UnknownDeviceModel
from keyturn.cloud.models import Account, Device, Event, RoleMembership
from keyturn.cloud.sessions import session_factory
from keyturn.crypto.keys import SigningKeyPair
from keyturn.protocol.messages import PROTOCOL_VERSION, DoorConfig
from keyturn.rules.types import Role
from worlds import SyncBuilding, make_sync_building


@pytest.fixture
def building(engine: Engine) -> SyncBuilding:
    with session_factory(engine)() as session, session.begin():
        return make_sync_building(session)


@pytest.fixture
def clock() -> Clock:
    """The cloud's clock at the fake lock's NOW."""
    return Clock(NOW)


def _enroll(db_url: str, tmp_path: Path, door_id: str, model: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["device", "enroll", "--door", door_id, "--model", model],
        env={"KEYTURN_DATABASE_URL": db_url, "KEYTURN_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _provision(client: TestClient, token: str, key: SigningKeyPair, model: str) -> httpx.Response:
    return client.post(
        "/api/v1/devices/provision",
        json={"token": token, "public_key": public_key_text(key), "model": model},
    )


def test_a_lock_enrols_syncs_and_opens_the_signed_downlink(
    client: TestClient, building: SyncBuilding, db_url: str, tmp_path: Path, engine: Engine
) -> None:
    token = _enroll(db_url, tmp_path, building.entrance_id, "keyturn-r1")
    key = SigningKeyPair.generate()

    answer = _provision(client, token, key, "keyturn-r1")

    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/msgpack"
    config = msgspec.msgpack.decode(answer.content, type=DoorConfig)
    assert config.door_id == building.entrance_id
    lock = FakeLock(config=config, key=key)

    synced = client.post(
        "/api/v1/sync",
        content=lock.uplink([attempt(1, building), attempt(2, building)]),
        headers={"content-type": "application/octet-stream"},
    )

    assert synced.status_code == 200
    downlink = lock.open(synced.content, config.authority_public_key)
    assert downlink.device_id == config.device_id
    assert downlink.stored_through_seq == 2
    assert downlink.access_list is not None
    assert downlink.access_list.door_id == building.entrance_id
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2

    path = f"/api/v1/devices/{config.device_id}/health"
    assert client.get(path).status_code == 401
    with session_factory(engine)() as session, session.begin():
        session.add(
            RoleMembership(
                person_id=building.manager_id,
                property_id=building.property_id,
                role=Role.PROPERTY_MANAGER,
            )
        )
        account = session.scalars(
            select(Account).where(Account.person_id == building.manager_id)
        ).one()
        _, secret = issue_token(
            session, account.id, "test", frozenset({Scope.READ}), None, False, datetime.now(UTC)
        )
    health = client.get(path, headers={"authorization": f"Bearer {secret}"})
    assert health.status_code == 200
    assert health.json()["versions_behind"] == 1
    assert health.json()["stored_through_seq"] == 2


def test_a_used_token_is_a_problem_and_creates_nothing(
    client: TestClient, building: SyncBuilding, db_url: str, tmp_path: Path, engine: Engine
) -> None:
    token = _enroll(db_url, tmp_path, building.gym_id, "keyturn-c2")
    assert _provision(client, token, SigningKeyPair.generate(), "keyturn-c2").status_code == 201

    again = _provision(client, token, SigningKeyPair.generate(), "keyturn-c2")

    assert again.status_code == 403
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("/invalid-provisioning-token")
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 1


def test_provisioning_takes_the_model_from_the_token(
    client: TestClient, building: SyncBuilding, db_url: str, tmp_path: Path, engine: Engine
) -> None:
    """`keyturn lock provision --cloud URL --token T`, as docs/operations.md writes it, sends
    no model: the token names it. A model that differs is refused with nothing changed."""
    token = _enroll(db_url, tmp_path, building.gym_id, "keyturn-c2")

    wrong = _provision(client, token, SigningKeyPair.generate(), "keyturn-r1")
    answer = client.post(
        "/api/v1/devices/provision",
        json={"token": token, "public_key": public_key_text(SigningKeyPair.generate())},
    )

    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("/device-model-mismatch")
    assert "keyturn-c2" in wrong.json()["detail"]
    assert answer.status_code == 201, answer.text
    config = msgspec.msgpack.decode(answer.content, type=DoorConfig)
    assert config.door_id == building.gym_id
    with session_factory(engine)() as session:
        device = session.scalars(select(Device)).one()
        assert device.model.name == "keyturn-c2"


def test_bad_frames_and_unknown_locks_are_problems(
    client: TestClient, building: SyncBuilding
) -> None:
    garbage = client.post("/api/v1/sync", content=b"garbage")
    unknown = client.post(
        "/api/v1/sync",
        content=msgspec.msgpack.encode([PROTOCOL_VERSION, "no-such-lock", "up", b"x"]),
    )
    missing = client.get("/api/v1/devices/no-such-lock/health")

    assert (garbage.status_code, garbage.json()["type"].rsplit("/", 1)[1]) == (
        400,
        "malformed-frame",
    )
    assert unknown.status_code == 404
    assert missing.status_code == 401  # no login: not even whether the lock exists


def test_enroll_for_an_unknown_model_fails_in_one_line(
    engine: Engine, building: SyncBuilding, db_url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli,
        ["device", "enroll", "--door", building.gym_id, "--model", "acme"],
        env={"KEYTURN_DATABASE_URL": db_url, "KEYTURN_DATA_DIR": str(tmp_path)},
    )

    assert result.exit_code != 0
    assert isinstance(result.exception, UnknownDeviceModel)
    assert "acme" in str(result.exception)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 0


def test_the_cloud_keeps_the_near_field_url_the_lock_last_reported(
    client: TestClient, building: SyncBuilding, db_url: str, tmp_path: Path, engine: Engine
) -> None:
    token = _enroll(db_url, tmp_path, building.entrance_id, "keyturn-r1")
    key = SigningKeyPair.generate()
    config = msgspec.msgpack.decode(
        _provision(client, token, key, "keyturn-r1").content, type=DoorConfig
    )
    lock = FakeLock(config=config, key=key)
    headers = {"content-type": "application/octet-stream"}

    def reported(url: str | None) -> str | None:
        sent = client.post(
            "/api/v1/sync", content=lock.uplink([], near_field_url=url), headers=headers
        )
        assert sent.status_code == 200
        with session_factory(engine)() as session:
            return session.get_one(Device, config.device_id).near_field_url

    url = "http://127.0.0.1:47100/near-field/v1"
    assert reported(url) == url
    assert reported("javascript:alert(1)") is None
    assert reported(url) == url
    assert reported(None) is None  # a lock whose service stopped, or an older lock
