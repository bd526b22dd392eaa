"""A carrier may drop or delay a downlink, nothing more: held back for days, replayed, or
handed over in answer to another uplink, it never turns a lock's clock back.

Everything is the real thing: a lock provisioned through the cloud, the app's sync route,
the lock's HttpTransport over HTTP on 127.0.0.1, and the phone relay. The HTTP carrier is a
small server in front of the app that may keep a reply back and hand it over later. Wall
time is travelled with time-machine, so the lock's hardware clock and the cloud's move
together. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import random
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.credentials.mobile_keys import issue_for_phone
from keyturn.cloud.app import create_app
from keyturn.cloud.devices.service import (
    create_provisioning_token,
    provision_device,
    retire_device,
)
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import Device, Door, MobileKeyRegistration
from keyturn.cloud.sessions import session_factory
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import sign_challenge
from keyturn.lock.agent import Attempt, Lock
from keyturn.lock.clock import TOLERANCE_MS, ManualClock
from keyturn.lock.errors import SyncRefused, TransportError
from keyturn.lock.provision import create_identity, install_config
from keyturn.lock.sync import SYNC_PATH, HttpTransport, Phone, sync_once
from keyturn.settings import Settings
from keyturn.sim.building import SHARED_DOORS, build

MASTER_KEY = bytes(range(32))
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
FOUR_DAYS = timedelta(days=4)
FRAME = {"content-type": "application/octet-stream"}
ENTRANCE = SHARED_DOORS[0][0]


class Carrier:
    """The network between the lock and the cloud: it forwards every uplink to the app and
    passes the reply back, unless told to keep it (the lock then sees a failed request) or
    to hand over a kept reply instead of the fresh one."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keep = False
        self.kept: list[bytes] = []
        self.instead: bytes | None = None
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                frame = self.rfile.read(int(self.headers["content-length"]))
                reply = carrier.client.post(SYNC_PATH, content=frame, headers=FRAME)
                assert reply.status_code == 200, reply.text
                body = carrier.pass_on(reply.content)
                if body is None:
                    self.send_response(504)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", FRAME["content-type"])
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def pass_on(self, reply: bytes) -> bytes | None:
        """What the lock gets: a kept reply if one is to go `instead`, else the fresh reply
        unless it is to be kept (then nothing: the request fails)."""
        instead, self.instead = self.instead, None
        if self.keep:
            self.kept.append(reply)
            return instead
        return reply if instead is None else instead

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class Site:
    lock: Lock
    data_dir: Path
    door_id: str
    phone: SigningKeyPair
    token: bytes  # the resident's mobile key for the door, valid three days from T0
    client: TestClient
    carrier: Carrier
    http: HttpTransport
    clock: time_machine.Traveller

    def sync(self) -> None:
        sync_once(self.lock, self.http)

    def tap(self) -> Attempt:
        challenge = self.lock.issue_challenge()
        signature = sign_challenge(self.phone, challenge, self.door_id)
        return self.lock.present_mobile_key(challenge, self.token, signature)

    def exchange(self, frame: bytes) -> bytes:
        """The cloud's sync route, as a phone reaches it."""
        reply = self.client.post(SYNC_PATH, content=frame, headers=FRAME)
        assert reply.status_code == 200, reply.text
        return bytes(reply.content)

    def wall_ms(self) -> int:
        return int(datetime.now(UTC).timestamp() * 1000)


@pytest.fixture
def site(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Site]:
    with time_machine.travel(T0, tick=False) as clock:
        with session_factory(engine)() as session, session.begin():
            building = build(
                session, MASTER_KEY, random.Random(4), 4, 1, T0, tmp_path / "locks",
                ManualClock(T0), [],
            )  # fmt: skip
            resident = building.residents[0]
            registration = session.get_one(MobileKeyRegistration, resident.registration_id)
            issued = issue_for_phone(session, MASTER_KEY, registration, T0)
        door = building.entrance
        assert door.lock is not None
        assert door.lock_dir is not None
        assert resident.phone is not None
        for other in building.doors:
            assert other.lock is not None
            other.lock.close()
        # The lock's hardware clock is the host's, which time-machine moves with the cloud's.
        lock = Lock.open(door.lock_dir)
        token = next(key.token for key in issued if door.id in key.door_ids)
        master = base64.urlsafe_b64encode(MASTER_KEY).decode()
        app_settings = Settings(data_dir=tmp_path, database_url=db_url, master_key=master)
        with TestClient(create_app(app_settings, engine)) as client:
            carrier = Carrier(client)
            http = HttpTransport(carrier.url)
            made = Site(
                lock, door.lock_dir, door.id, resident.phone, token, client, carrier, http, clock
            )
            try:
                made.sync()
                yield made
            finally:
                http.close()
                carrier.close()
                made.lock.close()


def test_a_downlink_held_back_four_days_cannot_turn_the_clock_back(site: Site) -> None:
    assert site.tap().granted
    site.clock.shift(timedelta(minutes=5))
    site.carrier.keep = True
    with pytest.raises(TransportError):
        site.sync()  # the carrier keeps the cloud's answer back
    (held,) = site.carrier.kept
    site.carrier.keep = False
    site.clock.shift(FOUR_DAYS)
    assert site.tap().detail == "token_expired"
    before = site.lock.clock.millis()

    # Four days on, the carrier answers the lock's next sync with the answer it kept.
    site.carrier.instead = held
    try:
        site.sync()
        refused = False
    except SyncRefused:
        refused = True

    assert site.lock.clock.millis() >= before
    assert abs(site.lock.clock.millis() - site.wall_ms()) <= TOLERANCE_MS
    assert site.tap().detail == "token_expired"
    assert refused


def test_a_held_downlink_handed_over_after_a_later_sync_is_refused(site: Site) -> None:
    site.carrier.keep = True
    with pytest.raises(TransportError):
        site.sync()
    (held,) = site.carrier.kept
    site.carrier.keep = False
    site.clock.shift(timedelta(hours=6))
    site.sync()
    trusted = site.lock.clock.last_signed_ms
    status = site.lock.device_status()
    site.clock.shift(FOUR_DAYS)
    before = site.lock.clock.millis()

    site.carrier.instead = held
    with pytest.raises(SyncRefused):
        site.sync()

    assert site.lock.clock.millis() == before
    assert site.lock.clock.last_signed_ms == trusted
    assert site.lock.device_status() == status
    assert site.tap().detail == "token_expired"


def test_an_answer_to_another_uplink_is_refused(site: Site) -> None:
    # A carrier one step behind: each sync gets the answer to the uplink before it.
    site.carrier.keep = True
    with pytest.raises(TransportError):
        site.sync()
    site.carrier.keep = False
    for _ in range(3):
        site.clock.shift(timedelta(minutes=10))
        site.carrier.keep = True
        site.carrier.instead = site.carrier.kept.pop(0)
        status = site.lock.device_status()
        with pytest.raises(SyncRefused):
            site.sync()
        assert site.lock.device_status() == status
    site.carrier.keep = False
    site.sync()  # once the carrier behaves, the lock syncs again


def test_a_replayed_downlink_is_refused_by_the_phone_relay_and_over_http(site: Site) -> None:
    phone = Phone()
    phone.pick_up(site.lock)
    phone.visit_cloud(site.exchange)
    copy = phone.inbox[0]
    phone.drop_off(site.lock)
    site.clock.shift(FOUR_DAYS)
    before = site.lock.clock.millis()

    phone.inbox.append(copy)
    with pytest.raises(SyncRefused):
        phone.drop_off(site.lock)
    site.carrier.instead = copy
    with pytest.raises(SyncRefused):
        site.sync()

    assert site.lock.clock.millis() == before
    assert site.tap().detail == "token_expired"


def test_the_newest_trusted_time_survives_a_restart(site: Site, engine: Engine) -> None:
    site.clock.shift(FOUR_DAYS)
    site.sync()
    trusted = site.lock.clock.last_signed_ms
    site.lock.close()
    site.lock = Lock.open(site.data_dir)
    assert site.lock.clock.last_signed_ms == trusted
    before = site.lock.clock.millis()

    # A cloud whose clock is four days slow answers the restarted lock's own uplink.
    frame = site.lock.build_uplink()
    with session_factory(engine)() as session, session.begin():
        reply = handle_uplink(session, MASTER_KEY, site.data_dir / "photos", frame, T0)
    with pytest.raises(SyncRefused):
        site.lock.apply_downlink(reply)

    assert site.lock.clock.millis() == before
    assert site.tap().detail == "token_expired"


# -- any carrier, any order ----------------------------------------------------------------

_steps = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(1, 5 * 24 * 3600)),
        st.tuples(st.just("sync"), st.booleans()),  # True: the answer is kept back
        st.tuples(st.just("deliver"), st.integers(0, 20)),  # a kept or an applied answer
        st.tuples(st.just("restart"), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=_steps)
def test_no_order_of_delivery_moves_the_lock_clock_or_its_trusted_time_back(
    engine: Engine, steps: list[tuple[str, int]]
) -> None:
    hardware = ManualClock(T0)
    with tempfile.TemporaryDirectory() as tmp, session_factory(engine)() as session:
        door_id = _door(session, Path(tmp))
        lock = _provision(session, door_id, Path(tmp) / "lock", hardware)
        frames: list[bytes] = []
        try:
            for step, value in steps:
                if step == "wait":
                    hardware.advance(value)
                elif step == "restart":
                    lock.close()
                    lock = Lock.open(Path(tmp) / "lock", hardware)
                before, trusted = lock.clock.millis(), lock.clock.last_signed_ms
                if step == "sync":
                    now = datetime.fromtimestamp(hardware.millis() / 1000, UTC)
                    reply = handle_uplink(session, MASTER_KEY, Path(tmp), lock.build_uplink(), now)
                    session.commit()
                    frames.append(reply)
                    if not value:
                        lock.apply_downlink(reply)
                elif step == "deliver" and frames:
                    with contextlib.suppress(SyncRefused):
                        lock.apply_downlink(frames[value % len(frames)])
                # The cloud's clock is the truth, and the lock's clock starts on it.
                assert lock.clock.millis() >= before
                assert lock.clock.last_signed_ms >= trusted
                assert abs(lock.clock.millis() - hardware.millis()) <= TOLERANCE_MS
        finally:
            lock.close()


def _door(session: Session, tmp: Path) -> str:
    """One building per database; each example retires the lock before and binds a new one."""
    door_id = session.scalar(select(Door.id).where(Door.name == ENTRANCE))
    if door_id is None:
        building = build(
            session, MASTER_KEY, random.Random(4), 4, 1, T0, tmp / "locks", ManualClock(T0), []
        )
        for door in building.doors:
            assert door.lock is not None
            door.lock.close()
        door_id = building.entrance.id
    bound = select(Device.id).where(Device.door_id == door_id, Device.retired_at.is_(None))
    for device_id in session.scalars(bound).all():
        retire_device(session, device_id, T0, "replaced by the next example")
    session.commit()
    return door_id


def _provision(session: Session, door_id: str, data_dir: Path, hardware: ManualClock) -> Lock:
    data_dir.mkdir()
    public = create_identity(data_dir)
    token = create_provisioning_token(session, door_id, "keyturn-r1", T0)
    config = provision_device(session, MASTER_KEY, token, public.public_bytes(), "keyturn-r1", T0)
    install_config(data_dir, config)
    session.commit()
    return Lock.open(data_dir, hardware)
