"""Fixtures of the security regressions: a real `keyturn serve` process and a building in it,
and the API in process with the resource tests' building (`app`, `client`, `db`, `site`).

`live_server` starts `python -m keyturn serve` on a free 127.0.0.1 port against this test's
migrated database (`engine`, so SQLite and PostgreSQL in turn) and always stops it;
`make_world` fills the database with a building whose doors have live locks, residents with
keys and codes, and a manager who signs in with a password and, optionally, TOTP.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "cloud" / d) for d in ("api", "auth")]

from api_fixtures import Site, make_site  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from keyturn.cloud.access.codes import issue_personal_code  # noqa: E402
from keyturn.cloud.app import create_app  # noqa: E402
from keyturn.cloud.auth import service, totp  # noqa: E402
from keyturn.cloud.auth.passwords import hash_password  # noqa: E402
from keyturn.cloud.auth.permissions import ALL_SCOPES  # noqa: E402
from keyturn.cloud.db import utcnow  # noqa: E402
from keyturn.cloud.devices.service import (  # noqa: E402
    create_provisioning_token,
    current_access_list,
    provision_device,
)
from keyturn.cloud.models import (  # noqa: E402  # noqa: E402  # noqa: E402
    Account,
    Door,
    Grant,
    Key,
    Keycard,
    Person,
    Portfolio,
    Property,
    RoleMembership,
    TotpFactor,
    Unit,
)
from keyturn.cloud.properties.service import create_door, give_authority  # noqa: E402
from keyturn.cloud.sessions import session_factory  # noqa: E402
from keyturn.crypto.keys import SigningKeyPair  # noqa: E402
from keyturn.rules.types import DoorKind, Role  # noqa: E402
from keyturn.settings import Settings  # noqa: E402

MASTER_KEY = bytes(range(32))
MASTER_KEY_TEXT = base64.urlsafe_b64encode(MASTER_KEY).decode()
PASSWORD = "correct horse battery staple"
MANAGER_EMAIL = "manager@example.org"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass
class LiveServer:
    """A running `keyturn serve`: its base URL, its process and where its output goes."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_serving(server: LiveServer) -> None:
    """Poll the health route until it answers, the process dies, or the timeout passes."""
    deadline = STARTUP_TIMEOUT_S
    waited = 0.0
    step = 0.05
    with httpx.Client(base_url=server.url, timeout=1.0) as client:
        while waited < deadline:
            try:
                if client.get("/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:
                server.process.wait(timeout=step)
            except subprocess.TimeoutExpired:
                waited += step
                continue
            raise AssertionError(f"keyturn serve exited early:\n{server.output()}")
    raise AssertionError(f"keyturn serve did not answer in {deadline}s:\n{server.output()}")


def _stop(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture
def live_server(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start `keyturn serve` on this test's database; keyword arguments become KEYTURN_AUTH_*
    settings (e.g. max_failures_per_account=5). Every server started is stopped afterwards."""
    started: list[LiveServer] = []

    def start(**auth_settings: object) -> LiveServer:
        port = _free_port()
        data_dir = tmp_path / f"server-{len(started)}"
        data_dir.mkdir()
        env = {
            **os.environ,
            "KEYTURN_DATA_DIR": str(data_dir),
            "KEYTURN_DATABASE_URL": db_url,
            "KEYTURN_MASTER_KEY": MASTER_KEY_TEXT,
            "KEYTURN_RETENTION_INTERVAL_S": "0",
            "KEYTURN_OUTBOUND_INTERVAL_S": "0",
            **{f"KEYTURN_AUTH_{name.upper()}": str(value) for name, value in auth_settings.items()},
        }
        log = data_dir / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "keyturn",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        server = LiveServer(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        _wait_until_serving(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            _stop(server)


@dataclass
class World:
    """A building with live locks at every door, residents holding keys, and a manager."""

    property_id: str
    door_ids: list[str]
    key_ids: list[str]  # keys over every door, with doorcodes
    manager_token: str
    manager_email: str = MANAGER_EMAIL
    password: str = PASSWORD
    master_key: bytes = MASTER_KEY
    master_key_text: str = MASTER_KEY_TEXT
    residents: list[str] = field(default_factory=list)
    grant_ids: dict[str, str] = field(default_factory=dict)  # resident → their grant
    doorcode_ids: dict[str, str] = field(default_factory=dict)  # resident → code at door 0
    keycard_ids: dict[str, str] = field(default_factory=dict)  # resident → active card
    totp_secret: bytes | None = None

    @property
    def url(self) -> str:
        return f"/api/v1/properties/{self.property_id}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.manager_token}"}


def _person(session: Session, email: str, password: str | None = None) -> Person:
    person = Person(display_name=email.split("@")[0], email=email)
    session.add(person)
    session.flush()
    password_hash = hash_password(password) if password is not None else None
    session.add(Account(person_id=person.id, password_hash=password_hash))
    session.flush()
    return person


def build_world(
    session: Session, *, doors: int = 4, residents: int = 0, with_totp: bool = False
) -> World:
    """The building; each resident holds one grant of key 0, a code at door 0 and a card."""
    now = utcnow()
    prop = Property(portfolio=Portfolio(name="Elm Holdings"), name="12 Elm St", time_zone="UTC")
    give_authority(prop, MASTER_KEY)
    session.add(prop)
    session.flush()
    unit = Unit(property_id=prop.id, label="1A")
    session.add(unit)
    session.flush()
    door_ids = [
        create_door(
            session=session,
            master_key=MASTER_KEY,
            property_id=prop.id,
            name=f"Door {n}",
            kind=DoorKind.COMMON,
            unit_id=None,
        ).id
        for n in range(doors)
    ]
    for door_id in door_ids:
        token = create_provisioning_token(session, door_id, "keyturn-r1", now)
        public = SigningKeyPair.generate().public_bytes()
        provision_device(session, MASTER_KEY, token, public, "keyturn-r1", now)
    keys = []
    for n in range(2):
        key = Key(property_id=prop.id, name=f"All doors {n}", provides_doorcodes=True)
        key.doors = [session.get_one(Door, door_id) for door_id in door_ids]
        session.add(key)
        keys.append(key)
    manager = _person(session, MANAGER_EMAIL, PASSWORD)
    session.add(
        RoleMembership(person_id=manager.id, property_id=prop.id, role=Role.PORTFOLIO_MANAGER)
    )
    session.flush()
    account = session.query(Account).filter_by(person_id=manager.id).one()
    secret = None
    if with_totp:
        secret = totp.new_secret()
        account.totp_secret_sealed = totp.seal_secret(MASTER_KEY, account.id, secret)
        session.add(TotpFactor(account_id=account.id, created_at=now))
    _row, token = service.issue_token(
        session, account.id, "race tests", ALL_SCOPES, None, with_totp, now
    )
    world = World(prop.id, door_ids, [key.id for key in keys], token, totp_secret=secret)
    for n in range(residents):
        person = _person(session, f"resident{n}@example.org")
        session.add(
            RoleMembership(
                person_id=person.id, property_id=prop.id, role=Role.RESIDENT, unit_id=unit.id
            )
        )
        grant = Grant(
            person_id=person.id, key_id=keys[0].id, starts_at=now - timedelta(days=1), resident=True
        )
        session.add(grant)
        session.flush()
        world.residents.append(person.id)
        world.grant_ids[person.id] = grant.id
        code = issue_personal_code(session, MASTER_KEY, person.id, door_ids[0], now)
        world.doorcode_ids[person.id] = code.record_id
        card = Keycard(person_id=person.id, property_id=prop.id, card_uid=f"04{n:06X}")
        session.add(card)
        session.flush()
        world.keycard_ids[person.id] = card.id
    for door_id in door_ids:
        current_access_list(session, MASTER_KEY, door_id, now)
    session.commit()
    return world


@pytest.fixture
def make_world(engine: Engine) -> Callable[..., World]:
    """Build a `World` (see `build_world` for the arguments) in this test's database."""

    def make(**options: int | bool) -> World:
        with session_factory(engine)() as session:
            return build_world(session, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def app(engine: Engine, db_url: str, tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path, database_url=db_url, master_key=MASTER_KEY_TEXT)
    return create_app(settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as opened:
        yield opened


@pytest.fixture
def site(db: Session) -> Site:
    built = make_site(db)
    db.commit()
    return built
