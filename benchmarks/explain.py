"""Explain (the service call, no HTTP) against the lock's own decision plus one read of its list.

A door with 500 people, each holding a grant of the building key and a personal doorcode
there (every other one a keycard, every tenth a phone), and a real lock that synced once.
The figure: one `explain` for one person at that door, audit record included, against a
baseline measured in the same run on the same database: the lock's own keypad decision for
that person's code (MAC, lookup and decide() on its loaded list) plus one SELECT of the
door's stored list through the same session. KEYTURN_BENCH_BACKENDS picks the backends.
"""

from __future__ import annotations

import base64
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from _report import best_of_interleaved, report
from _seed import scratch_databases
from keyturn.cloud import db, sessions
from keyturn.cloud.access.codes import issue_personal_code
from keyturn.cloud.access.credentials.service import activate_keycard, enrol_phone
from keyturn.cloud.access.explain.service import explain
from keyturn.cloud.access.keys.schemas import Window
from keyturn.cloud.access.keys.service import create_key, new_grant
from keyturn.cloud.devices.service import (
    create_provisioning_token,
    ensure_device_models,
    provision_device,
)
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import AccessListVersion, GrantKind
from keyturn.cloud.people import service as people_service
from keyturn.cloud.properties.schemas import PropertyCreate
from keyturn.cloud.properties.service import create_door, create_portfolio, create_property
from keyturn.crypto.keys import SigningKeyPair
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.provision import create_identity, install_config
from keyturn.rules.types import DoorKind, Reason

PEOPLE = int(os.environ.get("KEYTURN_BENCH_EXPLAIN_PEOPLE", "500"))
BACKENDS = tuple(os.environ.get("KEYTURN_BENCH_BACKENDS", "sqlite,postgresql").split(","))
CALLS = 200
ROUNDS = 7
TARGET_RATIO = 2.0
MASTER_KEY = bytes(range(32))
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
# What the baseline reads: the stored list of the version the lock applied.
_LIST = select(AccessListVersion.content).where(
    AccessListVersion.door_id == bindparam("door"),
    AccessListVersion.version == bindparam("version"),
)


class Door:
    """The benchmark's door in one database: its lock, and the person asked about."""

    def __init__(self, session: Session, folder: Path) -> None:
        rng = random.Random(7)
        portfolio = create_portfolio(session=session, name="Bench portfolio")
        prop = create_property(
            session=session,
            master_key=MASTER_KEY,
            portfolio_id=portfolio.id,
            settings=PropertyCreate(
                name="Bench building", time_zone="America/New_York", jurisdiction="default"
            ),
        )
        ensure_device_models(session)
        door = create_door(
            session=session,
            master_key=MASTER_KEY,
            property_id=prop.id,
            name="Main entrance",
            kind=DoorKind.ENTRANCE,
            unit_id=None,
        )
        self.property_id, self.door_id = prop.id, door.id
        self.lock = _provisioned_lock(session, door.id, folder)
        key = create_key(
            session=session,
            property_id=prop.id,
            name="Building",
            door_ids=[door.id],
            windows=[Window(weekday=day, start="06:00", end="23:00") for day in range(7)],
            may_share=False,
            provides_doorcodes=False,
        )
        self.codes: list[tuple[str, str]] = []
        for number in range(PEOPLE):
            person = people_service.add_person(
                session=session,
                display_name=f"Resident {number}",
                email=f"resident-{number}@bench.keyturn.example",
                now=NOW,
            )
            new_grant(
                session=session,
                key=key,
                person_id=person.id,
                starts_at=NOW - timedelta(days=30),
                ends_at=None,
                resident=False,
                created_by=None,
                kind=GrantKind.STANDARD,
                now=NOW,
            )
            issued = issue_personal_code(
                session, MASTER_KEY, person.id, door.id, NOW, draw=rng.randrange
            )
            self.codes.append((person.id, issued.code))
            if number % 2 == 0:
                uid = f"{rng.getrandbits(56):014X}"
                activate_keycard(
                    session=session, property_id=prop.id, person_id=person.id, card_uid=uid
                )
            if number % 10 == 0:
                phone = SigningKeyPair.generate().public_bytes()
                enrol_phone(
                    session=session,
                    person_id=person.id,
                    public_key=base64.urlsafe_b64encode(phone).decode().rstrip("="),
                    now=NOW,
                )
        session.commit()
        reply = handle_uplink(session, MASTER_KEY, folder / "photos", self.lock.build_uplink(), NOW)
        session.commit()
        assert self.lock.apply_downlink(reply).access_list is not None
        self.version = self.lock.index.version
        assert self.version > 0


def _provisioned_lock(session: Session, door_id: str, folder: Path) -> Lock:
    public = create_identity(folder / "lock")
    token = create_provisioning_token(
        session=session, door_id=door_id, model_name="keyturn-r1", now=NOW
    )
    config = provision_device(
        session=session,
        master_key=MASTER_KEY,
        token=token,
        public_key=public.public_bytes(),
        model_name="keyturn-r1",
        now=NOW,
    )
    install_config(folder / "lock", config)
    return Lock.open(folder / "lock", ManualClock(NOW))


def _round(session: Session, call: Callable[[], object]) -> float:
    """Seconds per call over CALLS calls; what the calls wrote is rolled back."""
    start = time.perf_counter()
    for _ in range(CALLS):
        call()
    elapsed = (time.perf_counter() - start) / CALLS
    session.rollback()
    return elapsed


def measure(backend: str) -> None:
    with scratch_databases(backend) as scratch, tempfile.TemporaryDirectory() as tmp:
        url = scratch.create("explain")
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            with sessions.session_factory(engine)() as session:
                door = Door(session, Path(tmp))
                person_id, code = door.codes[0]
                params = {"door": door.door_id, "version": door.version}

                def baseline() -> object:
                    decision = door.lock.decide_code(code)
                    return decision, session.execute(_LIST, params).scalar()

                def value() -> object:
                    return explain(
                        session=session,
                        master_key=MASTER_KEY,
                        property_id=door.property_id,
                        person_id=person_id,
                        door_id=door.door_id,
                        at=NOW,
                        now=NOW,
                    )

                answer = explain(
                    session=session,
                    master_key=MASTER_KEY,
                    property_id=door.property_id,
                    person_id=person_id,
                    door_id=door.door_id,
                    at=NOW,
                    now=NOW,
                )
                assert answer.lock.up_to_date, answer.lock
                assert answer.opens, answer
                assert door.lock.decide_code(code).reason is Reason.GRANTED
                session.rollback()
                base, took = best_of_interleaved(
                    lambda: _round(session, baseline), lambda: _round(session, value), ROUNDS
                )
                door.lock.close()
        finally:
            engine.dispose()
    report(f"explain.one_person_{backend}_{PEOPLE}_people", took, "s/call", base, TARGET_RATIO)


def main() -> None:
    for backend in BACKENDS:
        measure(backend)


if __name__ == "__main__":
    main()
