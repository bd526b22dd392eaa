"""Tests for building door access lists and publishing their versions, on both backends.

Revocations, suspensions and single-day revocations reach the list; a version is published
only when the content changes; a delta applied to its base equals the full list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fake_lock import NOW
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY
from keyturn.cloud.access.access_lists import (
    SINGLE_DAY_STANDING_SLOTS,
    build_access_list,
    schedule_from_json,
    subject_for,
)
from keyturn.cloud.devices.service import access_list_update, current_access_list
from keyturn.cloud.models import (
    AccessListVersion,
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
from keyturn.crypto.codes import card_mac, code_mac
from keyturn.crypto.sealed import unseal
from keyturn.protocol.access_lists import apply_delta
from keyturn.protocol.messages import SingleDayRevocation, WindowSpec
from keyturn.rules.errors import InvalidSchedule
from keyturn.rules.types import CredentialType
from worlds import SyncBuilding, make_sync_building


def _secret(session: Session, door_id: str) -> bytes:
    door = session.get(Door, door_id)
    assert door is not None
    return unseal(MASTER_KEY, door.secret_sealed, f"door-secret:{door.id}".encode())


@pytest.fixture
def building(session: Session) -> SyncBuilding:
    return make_sync_building(session)


def test_schedule_json_shape() -> None:
    windows = schedule_from_json(
        {
            "windows": [
                {"weekday": 4, "start": "18:00", "end": "24:00"},
                {"weekday": 0, "start": "09:00", "end": "17:30"},
            ]
        }
    )

    assert windows == (WindowSpec(0, 540, 1050), WindowSpec(4, 1080, 1440))
    assert schedule_from_json({}) == ()
    for bad in (
        {"windows": [{"weekday": 7, "start": "09:00", "end": "10:00"}]},
        {"windows": [{"weekday": 1, "start": "22:00", "end": "02:00"}]},
        {"windows": [{"weekday": 1, "start": "9am", "end": "10:00"}]},
        {"windows": "always"},
    ):
        with pytest.raises(InvalidSchedule):
            schedule_from_json(bad)


def test_credentials_carry_their_lookup_grant_and_narrowed_schedule(
    session: Session, building: SyncBuilding
) -> None:
    secret = _secret(session, building.entrance_id)
    key = session.get(Key, building.building_key_id)
    grant = session.get(Grant, building.grant_id)
    assert key is not None
    assert grant is not None
    key.schedule_json = {"windows": [{"weekday": 0, "start": "07:00", "end": "22:00"}]}
    grant.ends_at = NOW + timedelta(days=30)
    session.add_all(
        [
            Doorcode(
                person_id=building.resident_id,
                door_id=building.entrance_id,
                code_mac=code_mac(secret, "583920"),
            ),
            Keycard(
                person_id=building.resident_id, property_id=building.property_id, card_uid="a1b2"
            ),
            OneTimeCode(
                door_id=building.entrance_id,
                created_by=building.resident_id,
                code_mac=code_mac(secret, "1234"),
                valid_minutes=10,
            ),
        ]
    )
    session.flush()

    access = build_access_list(session, MASTER_KEY, building.entrance_id, NOW)

    by_type = {spec.credential_type: spec for spec in access.upserts}
    assert set(by_type) == {
        CredentialType.PERSONAL_DOORCODE,
        CredentialType.KEYCARD,
        CredentialType.ONE_TIME_CODE,
    }
    card = by_type[CredentialType.KEYCARD]
    assert card.lookup == card_mac(secret, "A1B2")
    assert card.subject == subject_for(building.resident_id)
    assert (card.grant_id, card.key_id, card.granted_by) == (
        building.grant_id,
        building.building_key_id,
        building.manager_id,
    )
    assert card.schedule.windows == (WindowSpec(0, 420, 1320),)
    assert card.schedule.ends_at == int((NOW + timedelta(days=30)).timestamp())
    assert by_type[CredentialType.PERSONAL_DOORCODE].lookup == code_mac(secret, "583920")
    one_time = by_type[CredentialType.ONE_TIME_CODE]
    assert one_time.use_window_s == 600
    assert one_time.subject != building.resident_id
    # The residence door is not on the building key: nothing of the resident's is there.
    assert build_access_list(session, MASTER_KEY, building.residence_id, NOW).upserts == ()


def test_revoked_grant_suspended_person_and_revoked_slot_reach_the_list(
    session: Session, building: SyncBuilding
) -> None:
    session.add(
        Keycard(person_id=building.resident_id, property_id=building.property_id, card_uid="c1")
    )
    guest_grant = Grant(
        person_id=building.manager_id,
        key_id=building.building_key_id,
        starts_at=NOW - timedelta(days=1),
    )
    session.add(guest_grant)
    session.add(
        MobileKeyRegistration(
            person_id=building.manager_id,
            phone_public_key=b"\x01" * 32,
            phone_key_id="lost-phone",
            revoked_at=NOW,
        )
    )
    today = NOW.astimezone(session.get(Property, building.property_id).zone).date()  # type: ignore[union-attr]
    session.add_all(
        [
            SingleDayCode(door_id=building.entrance_id, local_date=today, slot=0),
            SingleDayCode(door_id=building.entrance_id, local_date=today, slot=1, revoked_at=NOW),
            SingleDayCode(door_id=building.entrance_id, local_date=date(2025, 1, 1), slot=7),
        ]
    )
    session.flush()
    guest_grant.revoked_at = NOW
    resident = session.get_one(Person, building.resident_id)
    profile_at(session, person=resident, property_id=building.property_id).suspended_at = NOW
    session.flush()

    access = build_access_list(session, MASTER_KEY, building.entrance_id, NOW)

    assert guest_grant.id in access.revoked_key_ids
    assert "lost-phone" in access.revoked_credential_ids
    assert "lost-phone" not in access.revoked_key_ids
    assert building.grant_id not in access.revoked_key_ids
    assert access.suspended_subjects == (subject_for(building.resident_id),)
    assert access.single_day_revocations == (SingleDayRevocation(today.isoformat(), 1),)
    assert access.single_day_slots == SINGLE_DAY_STANDING_SLOTS  # 2 handed out, pool of 8
    assert access.lockdown is False


def test_a_version_is_published_only_when_the_content_changes(
    session: Session, building: SyncBuilding
) -> None:
    def versions() -> int:
        return session.scalar(select(func.count()).select_from(AccessListVersion)) or 0

    first = current_access_list(session, MASTER_KEY, building.gym_id, NOW)
    again = current_access_list(session, MASTER_KEY, building.gym_id, NOW + timedelta(hours=1))
    assert (first.version, again.version, versions()) == (1, 1, 1)

    prop = session.get(Property, building.property_id)
    assert prop is not None
    prop.lockdown = True
    session.flush()
    locked = current_access_list(session, MASTER_KEY, building.gym_id, NOW)
    assert (locked.version, locked.lockdown, versions()) == (2, True, 2)

    prop.lockdown = False
    session.flush()
    unlocked = current_access_list(session, MASTER_KEY, building.gym_id, NOW)
    assert (unlocked.version, versions()) == (3, 3)


def test_a_delta_applied_to_its_base_equals_the_full_list(
    session: Session, building: SyncBuilding
) -> None:
    secret = _secret(session, building.gym_id)
    session.add(
        Keycard(person_id=building.resident_id, property_id=building.property_id, card_uid="F1")
    )
    session.flush()
    base = current_access_list(session, MASTER_KEY, building.gym_id, NOW)

    card = session.scalars(select(Keycard)).one()
    card.active = False
    session.add(
        Doorcode(
            person_id=building.resident_id,
            door_id=building.gym_id,
            code_mac=code_mac(secret, "604172"),
        )
    )
    grant = session.get(Grant, building.grant_id)
    assert grant is not None
    grant.ends_at = datetime(2026, 12, 31, tzinfo=UTC)
    session.flush()
    delta = access_list_update(session, MASTER_KEY, building.gym_id, base.version, NOW)
    full = current_access_list(session, MASTER_KEY, building.gym_id, NOW)

    assert delta is not None
    assert delta.base_version == base.version
    assert card.id in delta.removals
    assert apply_delta(base, delta) == full
    assert access_list_update(session, MASTER_KEY, building.gym_id, full.version, NOW) is None
    assert access_list_update(session, MASTER_KEY, building.gym_id, 0, NOW) == full
