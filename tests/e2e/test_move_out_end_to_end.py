"""Move-in and move-out end to end through real locks: the lock's own code, provisioned and
synced through the cloud's real sync handler.

A moved-out resident's phone key, doorcode, keycard and their guest's card open the doors
until each lock next syncs (locks decide offline), and are refused at every lock after it; a
scheduled move-out changes nothing before its time and takes effect when the job runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factories import (
    MASTER_KEY,
    T0,
    consent_in_app,
    give_doorcode,
    give_key,
    give_keycard,
    give_phone,
    give_role,
    token_for,
)
from keyturn.cloud.access.credentials.mobile_keys import issue_for_phone
from keyturn.cloud.access.rollout import lock_status
from keyturn.cloud.access.sharing import service as sharing
from keyturn.cloud.access.sharing.schemas import GuestInvite
from keyturn.cloud.auth import service as auth_service
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.models import Key, MobileKeyRegistration
from keyturn.cloud.people.residency.service import end_due_residencies, move_in, move_out
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import sign_challenge
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.rules.types import Role
from worlds import ResidencyBuilding, install_real_lock, make_residency_building, sync_real_lock

ADA_CARD = "04A1B2C3"
SAM_CARD = "04FFEE01"
MINUTE = timedelta(minutes=1)


@dataclass
class Street:
    """The residency building with real locks at its entrance, gym and 4B's door."""

    building: ResidencyBuilding
    clock: ManualClock
    locks: dict[str, Lock]  # door id -> lock
    photo_dir: Path

    def sync_all(self, session: Session, now: datetime) -> None:
        for lock in self.locks.values():
            sync_real_lock(session, lock, clock=self.clock, now=now, photo_dir=self.photo_dir)


@pytest.fixture
def street(session: Session, tmp_path: Path) -> Iterator[Street]:
    building = make_residency_building(session, locks=False)
    session.commit()
    clock = ManualClock(T0)
    locks = {
        door_id: install_real_lock(
            session, door_id=door_id, data_dir=tmp_path / f"lock-{n}", clock=clock
        )
        for n, door_id in enumerate((building.entrance_id, building.gym_id, building.home_id))
    }
    yield Street(building, clock, locks, tmp_path / "photos")
    for lock in locks.values():
        lock.close()


@dataclass
class Held:
    membership_id: str
    phone: SigningKeyPair
    tokens: dict[str, bytes]  # door id -> a mobile key that opens it
    code: str


def _ada_moves_in(session: Session, street: Street, now: datetime) -> Held:
    """Ada moves into 4B with the building key too, a phone, a code at home, a card, and a
    guest (Sam, with a card of his own) invited from 4B's key."""
    b = street.building
    membership = move_in(
        session=session,
        master_key=MASTER_KEY,
        property_id=b.property_id,
        person_id=b.resident_id,
        unit_id=b.unit_id,
        starts_at=now - timedelta(days=30),
        by=b.manager_id,
        now=now,
    )
    consent_in_app(session, person_id=b.resident_id, now=now)
    give_key(
        session,
        key=session.get_one(Key, b.building_key_id),
        person_id=b.resident_id,
        starts_at=now,
        by=b.manager_id,
    )
    phone = SigningKeyPair.generate()
    registration = give_phone(session, person_id=b.resident_id, phone=phone, now=now)
    code = give_doorcode(session, person_id=b.resident_id, door_id=b.home_id, now=now).code
    give_keycard(session, property_id=b.property_id, person_id=b.resident_id, card_uid=ADA_CARD)
    ada = auth_service.principal_from_token(
        session=session, secret=token_for(session, b.resident_id, now=now), now=now
    )
    guest = sharing.invite_guest(
        session=session,
        config=AuthConfig(),
        principal=ada,
        property_id=b.property_id,
        invite=GuestInvite(
            email="sam@example.test",
            display_name="Sam",
            key_id=b.unit_key_id,
            starts_at=now,
            ends_at=now + timedelta(days=30),
        ),
        now=now,
    )
    consent_in_app(session, person_id=guest.person_id, now=now)
    give_keycard(session, property_id=b.property_id, person_id=guest.person_id, card_uid=SAM_CARD)
    session.commit()
    tokens: dict[str, bytes] = {}
    for issued in issue_for_phone(
        session, MASTER_KEY, session.get_one(MobileKeyRegistration, registration.id), now
    ):
        for door_id in issued.door_ids:
            tokens.setdefault(door_id, issued.token)
    return Held(membership.id, phone, tokens, code)


def _tap(lock: Lock, phone: SigningKeyPair, token: bytes, door_id: str) -> bool:
    challenge = lock.issue_challenge()
    return lock.present_mobile_key(
        challenge, token, sign_challenge(phone, challenge, door_id)
    ).granted


def _opens(street: Street, held: Held) -> dict[str, set[str]]:
    """Per credential, the doors (by name) whose lock lets it in now."""
    b = street.building
    names = {b.entrance_id: "entrance", b.gym_id: "gym", b.home_id: "home"}
    opened: dict[str, set[str]] = {"card": set(), "phone": set(), "code": set(), "guest": set()}
    for door_id, lock in street.locks.items():
        if lock.present_card(ADA_CARD).granted:
            opened["card"].add(names[door_id])
        if door_id in held.tokens and _tap(lock, held.phone, held.tokens[door_id], door_id):
            opened["phone"].add(names[door_id])
        if door_id == b.home_id and lock.enter_code(held.code).granted:
            opened["code"].add(names[door_id])
        if lock.present_card(SAM_CARD).granted:
            opened["guest"].add(names[door_id])
    return opened


def test_a_moved_out_resident_is_refused_at_every_lock_after_its_next_sync(
    session: Session, street: Street
) -> None:
    b = street.building
    held = _ada_moves_in(session, street, T0)
    street.sync_all(session, T0 + MINUTE)
    street.clock.set(T0 + 2 * MINUTE)
    assert _opens(street, held) == {
        "card": {"entrance", "gym", "home"},
        "phone": {"entrance", "gym", "home"},
        "code": {"home"},
        "guest": {"entrance", "home"},
    }

    out_at = T0 + 10 * MINUTE
    report = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=b.property_id,
        membership_id=held.membership_id,
        at=out_at,
        by=b.manager_id,
        now=out_at,
    )
    session.commit()
    assert {status.door_id for status in report.locks} == set(street.locks)
    assert not any(status.applied for status in report.locks)

    # Before they sync, the locks still decide offline with what they knew: that is honest.
    street.clock.set(out_at + MINUTE)
    before = _opens(street, held)
    assert before["card"] == {"entrance", "gym", "home"}
    assert before["guest"] == {"entrance", "home"}

    street.sync_all(session, out_at + 2 * MINUTE)
    street.clock.set(out_at + 3 * MINUTE)
    assert _opens(street, held) == {"card": set(), "phone": set(), "code": set(), "guest": set()}
    # A lock tells the cloud which list it applied in its following uplink.
    doors = [status.door_id for status in report.locks]
    assert not any(status.applied for status in lock_status(session, doors, out_at))
    street.sync_all(session, out_at + 4 * MINUTE)
    after = lock_status(session, doors, out_at)
    assert all(status.applied for status in after)
    assert {status.door_name for status in after} == {"Entrance", "Gym", "4B door"}


def test_a_scheduled_move_out_does_nothing_before_its_time_and_the_job_ends_it(
    session: Session, street: Street
) -> None:
    b = street.building
    held = _ada_moves_in(session, street, T0)
    at = T0 + timedelta(days=2)
    scheduled = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=b.property_id,
        membership_id=held.membership_id,
        at=at,
        by=b.manager_id,
        now=T0 + MINUTE,
    )
    session.commit()
    assert scheduled.scheduled
    street.sync_all(session, T0 + 2 * MINUTE)

    day = T0 + timedelta(days=1)
    assert end_due_residencies(session=session, master_key=MASTER_KEY, now=day) == []
    street.sync_all(session, day)
    opened = _opens(street, held)
    assert opened["card"] == {"entrance", "gym", "home"}
    assert opened["code"] == {"home"}
    assert opened["guest"] == {"entrance", "home"}

    # At its time, a lock that has not synced since ends the residency's key by itself (the
    # end travelled with the schedule); what the job revokes still waits for the next sync.
    street.clock.set(at + MINUTE / 2)
    offline = _opens(street, held)
    # A card carries one grant's schedule per door, the resident one first: at the entrance
    # that is 4B's key, which has ended, until a sync puts the building key in its place.
    assert offline["card"] == {"gym"}
    assert offline["code"] == set()
    assert offline["guest"] == {"entrance", "home"}

    assert end_due_residencies(session=session, master_key=MASTER_KEY, now=at - MINUTE) == []
    [ended] = end_due_residencies(session=session, master_key=MASTER_KEY, now=at + MINUTE)
    session.commit()
    assert (ended.membership_id, ended.scheduled) == (held.membership_id, False)
    street.sync_all(session, at + 2 * MINUTE)
    assert _opens(street, held) == {"card": set(), "phone": set(), "code": set(), "guest": set()}
    assert end_due_residencies(session=session, master_key=MASTER_KEY, now=at + MINUTE) == []


def test_a_resident_who_is_also_staff_keeps_the_staff_key(session: Session, street: Street) -> None:
    b = street.building
    held = _ada_moves_in(session, street, T0)
    give_role(session, person_id=b.resident_id, property_id=b.property_id, role=Role.STAFF)
    give_key(
        session,
        key=session.get_one(Key, b.staff_key_id),
        person_id=b.resident_id,
        starts_at=T0,
        by=b.manager_id,
    )
    session.commit()
    move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=b.property_id,
        membership_id=held.membership_id,
        at=T0 + MINUTE,
        by=b.manager_id,
        now=T0 + MINUTE,
    )
    session.commit()

    street.sync_all(session, T0 + 2 * MINUTE)
    opened = _opens(street, held)
    # The staff key's gym stays open to her card; the residency's doors and shares are gone.
    # The building key (entrance and gym) is hers too, not the residency's: it stays.
    assert opened["card"] == {"entrance", "gym"}
    assert opened["code"] == set()
    assert opened["guest"] == set()
    assert "home" not in opened["phone"]
