"""Tests for reusing a door's published access list, on SQLite and PostgreSQL.

A write to anything a list is built from moves the door's access revision and yields a new
version at the next sync; time alone yields one when a grant or a one-time code's window
ends or the single-day lookback moves; with neither, the list is not rebuilt at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_lock import NOW, provision_fake_lock
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from factories import MASTER_KEY, give_keycard, give_phone
from keyturn.cloud import sessions
from keyturn.cloud.access import revisions
from keyturn.cloud.devices import service as devices_service
from keyturn.cloud.devices.service import access_list_update, current_access_list
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import (
    Account,
    Door,
    Doorcode,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    Person,
    Property,
    SingleDayCode,
)
from keyturn.cloud.people.profiles import profile_at
from keyturn.crypto.codes import code_mac, door_secret
from keyturn.crypto.sealed import seal, unseal
from worlds import SyncBuilding, make_sync_building

Change = Callable[[Session, SyncBuilding], None]


@pytest.fixture
def building(session: Session) -> SyncBuilding:
    """The sync fixtures' building, with a card and a phone for its resident."""
    made = make_sync_building(session)
    give_keycard(session, property_id=made.property_id, person_id=made.resident_id, card_uid="c1")
    # The manager holds no grant yet, so this card is on no list until one is given.
    give_keycard(session, property_id=made.property_id, person_id=made.manager_id, card_uid="a1")
    give_phone(session, person_id=made.resident_id, now=NOW)
    return made


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The doors whose list was rebuilt, in order."""
    calls: list[str] = []
    real = devices_service.build_access_list

    def counting(session: Session, master_key: bytes, door_id: str, now: datetime) -> Any:
        calls.append(door_id)
        return real(session, master_key, door_id, now)

    monkeypatch.setattr(devices_service, "build_access_list", counting)
    return calls


def _revision(session: Session, building: SyncBuilding, door_id: str | None = None) -> int:
    return revisions.door_revision(session, door_id or building.entrance_id, building.property_id)


def _get(session: Session, model: type[Any], row_id: str) -> Any:
    row = session.get(model, row_id)
    assert row is not None
    return row


def _secret(session: Session, building: SyncBuilding) -> bytes:
    door = _get(session, Door, building.entrance_id)
    return unseal(MASTER_KEY, door.secret_sealed, f"door-secret:{door.id}".encode())


def _revoke_grant(session: Session, building: SyncBuilding) -> None:
    _get(session, Grant, building.grant_id).revoked_at = NOW


def _end_grant(session: Session, building: SyncBuilding) -> None:
    _get(session, Grant, building.grant_id).ends_at = NOW + timedelta(days=30)


def _new_grant(session: Session, building: SyncBuilding) -> None:
    session.add(
        Grant(person_id=building.manager_id, key_id=building.building_key_id, starts_at=NOW)
    )


def _reschedule_key(session: Session, building: SyncBuilding) -> None:
    key = _get(session, Key, building.building_key_id)
    key.schedule_json = {"windows": [{"weekday": 0, "start": "07:00", "end": "22:00"}]}


def _narrow_key(session: Session, building: SyncBuilding) -> None:
    key = _get(session, Key, building.building_key_id)
    key.doors = [door for door in key.doors if door.id != building.entrance_id]


def _add_doorcode(session: Session, building: SyncBuilding) -> None:
    session.add(
        Doorcode(
            person_id=building.resident_id,
            door_id=building.entrance_id,
            code_mac=code_mac(_secret(session, building), "583920"),
        )
    )


def _deactivate_card(session: Session, building: SyncBuilding) -> None:
    card = session.scalars(select(Keycard).where(Keycard.person_id == building.resident_id)).one()
    card.active = False


def _add_one_time_code(session: Session, building: SyncBuilding) -> None:
    session.add(
        OneTimeCode(
            door_id=building.entrance_id,
            code_mac=code_mac(_secret(session, building), "1234"),
            valid_minutes=10,
        )
    )


def _revoke_single_day_code(session: Session, building: SyncBuilding) -> None:
    today = NOW.astimezone(_get(session, Property, building.property_id).zone).date()
    session.add(
        SingleDayCode(door_id=building.entrance_id, local_date=today, slot=0, revoked_at=NOW)
    )


def _revoke_phone(session: Session, building: SyncBuilding) -> None:
    session.scalars(select(MobileKeyRegistration)).one().revoked_at = NOW


def _suspend(session: Session, building: SyncBuilding) -> None:
    resident = session.get_one(Person, building.resident_id)
    profile_at(session, person=resident, property_id=building.property_id).suspended_at = NOW


def _lock_down(session: Session, building: SyncBuilding) -> None:
    _get(session, Property, building.property_id).lockdown = True


def _rotate_door_secret(session: Session, building: SyncBuilding) -> None:
    door = _get(session, Door, building.entrance_id)
    door.secret_sealed = seal(MASTER_KEY, door_secret(), f"door-secret:{door.id}".encode())


def _delete_person(session: Session, building: SyncBuilding) -> None:
    session.delete(_get(session, Person, building.resident_id))


def _bulk_update(session: Session, building: SyncBuilding) -> None:
    session.execute(update(Keycard).values(active=False))


CHANGES: dict[str, Change] = {
    "grant revoked": _revoke_grant,
    "grant given an end": _end_grant,
    "grant added": _new_grant,
    "key schedule": _reschedule_key,
    "key loses the door": _narrow_key,
    "doorcode added": _add_doorcode,
    "keycard deactivated": _deactivate_card,
    "one-time code added": _add_one_time_code,
    "single-day code revoked": _revoke_single_day_code,
    "phone revoked": _revoke_phone,
    "account suspended": _suspend,
    "property locked down": _lock_down,
    "door secret rotated": _rotate_door_secret,
    "person deleted": _delete_person,
    "bulk ORM update": _bulk_update,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_kind_of_change_moves_the_revision_and_publishes_a_new_version(
    session: Session, building: SyncBuilding, builds: list[str], change: Change
) -> None:
    first = current_access_list(session, MASTER_KEY, building.entrance_id, NOW)
    before = _revision(session, building)

    change(session, building)
    session.flush()

    assert _revision(session, building) > before
    later = current_access_list(session, MASTER_KEY, building.entrance_id, NOW + timedelta(hours=1))
    assert later.version == first.version + 1
    assert later != first
    assert builds == [building.entrance_id, building.entrance_id]


def test_a_lock_gets_the_new_version_at_its_next_sync(
    session: Session, building: SyncBuilding, tmp_path: Path
) -> None:
    lock = provision_fake_lock(session, building.entrance_id)
    authority = building.authority.public_bytes()

    def sync(minutes: int) -> int | None:
        at = NOW + timedelta(minutes=minutes)
        down = lock.open(
            handle_uplink(session, MASTER_KEY, tmp_path, lock.uplink([]), at), authority
        )
        if down.access_list is not None:
            lock.applied_version = down.access_list.version
            return down.access_list.version
        return None

    assert sync(1) == 1
    assert sync(2) is None
    _deactivate_card(session, building)
    session.flush()
    assert sync(3) == 2
    assert sync(4) is None


def test_without_a_change_the_list_is_not_rebuilt(
    session: Session, building: SyncBuilding, builds: list[str]
) -> None:
    first = current_access_list(session, MASTER_KEY, building.entrance_id, NOW)
    for hours in (1, 2, 5):
        at = NOW + timedelta(hours=hours)
        again = current_access_list(session, MASTER_KEY, building.entrance_id, at)
        assert again.version == first.version
        assert again.upserts == first.upserts
        assert again.issued_at == int(at.timestamp())
        assert access_list_update(session, MASTER_KEY, building.entrance_id, 1, at) is None
    full = access_list_update(session, MASTER_KEY, building.entrance_id, 0, NOW)
    assert full == first

    assert builds == [building.entrance_id]


def test_writes_that_no_list_depends_on_leave_the_revision(
    session: Session, building: SyncBuilding
) -> None:
    current_access_list(session, MASTER_KEY, building.entrance_id, NOW)
    before = _revision(session, building)

    _get(session, Person, building.resident_id).display_name = "Ada P."
    account = session.scalars(
        select(Account).where(Account.person_id == building.resident_id)
    ).one()
    account.password_hash = "not-a-real-hash"
    session.flush()

    assert _revision(session, building) == before


def test_a_door_change_leaves_the_other_doors_lists_alone(
    session: Session, building: SyncBuilding, builds: list[str]
) -> None:
    current_access_list(session, MASTER_KEY, building.gym_id, NOW)
    gym_before = _revision(session, building, building.gym_id)

    _add_one_time_code(session, building)
    session.flush()
    current_access_list(session, MASTER_KEY, building.gym_id, NOW + timedelta(minutes=1))

    assert _revision(session, building, building.gym_id) == gym_before
    assert builds == [building.gym_id]


def _grant_ending(session: Session, building: SyncBuilding) -> datetime:
    _get(session, Grant, building.grant_id).ends_at = NOW + timedelta(hours=3)
    return NOW + timedelta(hours=3)


def _one_time_window_ending(session: Session, building: SyncBuilding) -> datetime:
    session.add(
        OneTimeCode(
            door_id=building.entrance_id,
            code_mac=code_mac(_secret(session, building), "1234"),
            valid_minutes=10,
            first_used_at=NOW - timedelta(minutes=5),
        )
    )
    return NOW + timedelta(minutes=5)


def _single_day_lookback_moving(session: Session, building: SyncBuilding) -> datetime:
    prop = _get(session, Property, building.property_id)
    today = NOW.astimezone(prop.zone).date()
    session.add(
        SingleDayCode(door_id=building.entrance_id, local_date=today, slot=0, revoked_at=NOW)
    )
    # Today's ledger is looked back on tomorrow too, and let go at the midnight after.
    return datetime.combine(today + timedelta(days=2), datetime.min.time(), prop.zone).astimezone(
        UTC
    )


BOUNDARIES: dict[str, Callable[[Session, SyncBuilding], datetime]] = {
    "grant ends": _grant_ending,
    "one-time window ends": _one_time_window_ending,
    "single-day lookback moves": _single_day_lookback_moving,
}


@pytest.mark.parametrize("boundary", BOUNDARIES.values(), ids=BOUNDARIES.keys())
def test_passing_a_time_boundary_publishes_a_new_version_without_a_write(
    session: Session,
    building: SyncBuilding,
    builds: list[str],
    boundary: Callable[[Session, SyncBuilding], datetime],
) -> None:
    changes_at = boundary(session, building)
    session.flush()
    first = current_access_list(session, MASTER_KEY, building.entrance_id, NOW)
    revision = _revision(session, building)

    just_before = current_access_list(
        session, MASTER_KEY, building.entrance_id, changes_at - timedelta(seconds=1)
    )
    after = current_access_list(session, MASTER_KEY, building.entrance_id, changes_at)

    assert just_before.version == first.version
    assert after.version == first.version + 1
    assert (
        after.upserts != first.upserts
        or after.revoked_key_ids != first.revoked_key_ids
        or (after.single_day_revocations != first.single_day_revocations)
    )
    assert _revision(session, building) == revision
    assert builds == [building.entrance_id, building.entrance_id]


def test_going_back_in_time_rebuilds_rather_than_trusting_the_newer_check(
    session: Session, building: SyncBuilding, builds: list[str]
) -> None:
    _grant_ending(session, building)
    session.flush()
    current_access_list(session, MASTER_KEY, building.entrance_id, NOW + timedelta(hours=4))

    earlier = current_access_list(session, MASTER_KEY, building.entrance_id, NOW)

    assert any(spec.grant_id == building.grant_id for spec in earlier.upserts)
    assert builds == [building.entrance_id, building.entrance_id]


@pytest.fixture
def two_sessions(engine: Engine) -> Iterator[tuple[Session, Session]]:
    factory = sessions.session_factory(engine)
    with factory() as first, factory() as second:
        yield first, second


def test_a_change_committed_by_another_process_is_seen(
    two_sessions: tuple[Session, Session], builds: list[str]
) -> None:
    api, sync = two_sessions
    building = make_sync_building(api)
    give_keycard(
        api, property_id=building.property_id, person_id=building.resident_id, card_uid="c1"
    )
    api.commit()
    first = current_access_list(sync, MASTER_KEY, building.entrance_id, NOW)
    sync.commit()

    api.scalars(select(Keycard)).one().active = False
    api.commit()
    later = current_access_list(sync, MASTER_KEY, building.entrance_id, NOW + timedelta(hours=1))

    assert later.version == first.version + 1
    assert later.upserts == ()
    assert len(builds) == 2
