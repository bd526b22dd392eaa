"""A credential a door's lock cannot read is refused with 409 `missing-capability` (A2, A3).

Doorcodes need a keypad and keycards a card reader; a refused request writes nothing, and a
door with no lock bound is not checked. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import T0, give_key, make_key, provision_lock
from keyturn.cloud.models import (
    AccessListVersion,
    Device,
    Door,
    Doorcode,
    Key,
    Keycard,
    OneTimeCode,
    SingleDayCode,
)
from keyturn.cloud.problems import PROBLEM_BASE
from worlds import Site

NO_KEYPAD = "keyturn-b1"
NO_CARD_READER = "keyturn-m"
WRITTEN = (Doorcode, OneTimeCode, SingleDayCode, Keycard, AccessListVersion)


def _rows(db: Session) -> dict[str, int]:
    db.expire_all()
    return {
        table.__tablename__: db.scalar(select(func.count()).select_from(table)) or 0
        for table in WRITTEN
    }


def _missing(answer: Response, capability: str) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    body: dict[str, Any] = answer.json()
    assert body["type"] == PROBLEM_BASE + "missing-capability"
    assert body["capability"] == capability
    return body


def _keypadless_package_room(db: Session, site: Site) -> None:
    """Bind a reader-only lock at the package room and put the room on the resident's key."""
    provision_lock(db, door_id=site.package_room_id, model=NO_KEYPAD)
    key = db.get_one(Key, site.resident_key_id)
    key.doors.append(db.get_one(Door, site.package_room_id))
    db.commit()


def test_rule_a3_manager_doorcode_at_a_keypadless_lock_is_409_and_writes_nothing(
    client: TestClient, db: Session, site: Site
) -> None:
    _keypadless_package_room(db, site)
    before = _rows(db)

    answer = client.post(
        f"{site.url}/people/{site.person('resident')}/doorcodes",
        json={"door_id": site.package_room_id},
        headers=site.auth("portfolio_manager"),
    )

    assert _missing(answer, "keypad")["door_id"] == site.package_room_id
    assert _rows(db) == before


def test_rule_a3_own_reset_at_a_keypadless_residence_lock_is_409(
    client: TestClient, db: Session, site: Site
) -> None:
    db.get_one(Device, site.home_lock_id).door_id = None
    db.flush()
    provision_lock(db, door_id=site.home_id, model=NO_KEYPAD)
    db.commit()
    before = _rows(db)

    answer = client.post(
        f"{site.url}/doorcodes/mine", json={"door_id": site.home_id}, headers=site.auth("resident")
    )

    assert _missing(answer, "keypad")["door_id"] == site.home_id
    assert _rows(db) == before


def test_rule_a3_single_day_one_time_and_courier_codes_need_a_keypad_at_every_door(
    client: TestClient, db: Session, site: Site
) -> None:
    _keypadless_package_room(db, site)
    manager = site.auth("portfolio_manager")
    before = _rows(db)
    day = (T0 + timedelta(days=1)).date().isoformat()

    answers = [
        client.post(
            f"{site.url}/single-day-codes",
            json={"local_date": day, "door_ids": [site.entrance_id, site.package_room_id]},
            headers=manager,
        ),
        client.post(
            f"{site.url}/one-time-codes", json={"door_id": site.package_room_id}, headers=manager
        ),
        client.post(
            f"{site.url}/courier-codes",
            json={"door_ids": [site.entrance_id, site.package_room_id]},
            headers=manager,
        ),
    ]

    for answer in answers:
        assert _missing(answer, "keypad")["door_id"] == site.package_room_id
    assert _rows(db) == before


def test_rule_a3_a_door_with_no_lock_bound_is_not_checked(
    client: TestClient, db: Session, site: Site
) -> None:
    answer = client.post(
        f"{site.url}/one-time-codes",
        json={"door_id": site.package_room_id},
        headers=site.auth("portfolio_manager"),
    )

    assert answer.status_code == 201, answer.text


def test_rule_a2_keycard_refused_only_when_no_door_of_the_persons_keys_reads_cards(
    client: TestClient, db: Session, site: Site
) -> None:
    provision_lock(db, door_id=site.package_room_id, model=NO_CARD_READER)
    key = make_key(
        db, property_id=site.property_id, name="Parcels", door_ids=[site.package_room_id]
    )
    give_key(
        db,
        key=key,
        person_id=site.person("staff"),
        starts_at=T0 - timedelta(days=1),
        by=site.person("portfolio_manager"),
    )
    db.commit()
    manager = site.auth("portfolio_manager")
    before = _rows(db)

    refused = client.post(
        f"{site.url}/people/{site.person('staff')}/keycards",
        json={"card_uid": "04aabbcc"},
        headers=manager,
    )
    unchanged = _rows(db)
    key.doors.append(db.get_one(Door, site.entrance_id))
    db.commit()
    accepted = client.post(
        f"{site.url}/people/{site.person('staff')}/keycards",
        json={"card_uid": "04aabbcc"},
        headers=manager,
    )

    assert _missing(refused, "card_reader")["door_ids"] == [site.package_room_id]
    assert unchanged == before
    assert accepted.status_code == 201, accepted.text


def test_rule_a3_lost_phone_temporary_code_skips_doors_whose_lock_has_no_keypad(
    client: TestClient, db: Session, site: Site
) -> None:
    _keypadless_package_room(db, site)

    suspended = client.post(
        f"{site.url}/people/{site.person('resident')}/suspend",
        json={},
        headers=site.auth("property_manager"),
    )

    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["temporary_code_emailed"] is True
    assert sorted(suspended.json()["temporary_code_doors"]) == sorted(
        [site.entrance_id, site.home_id]
    )
    db.expire_all()
    assert db.scalars(select(OneTimeCode.door_id)).all().count(site.package_room_id) == 0
