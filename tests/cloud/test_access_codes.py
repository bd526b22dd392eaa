"""Issuing codes: personal codes stay unique at a door and exist only as MACs (A3, A4)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from fake_lock import NOW
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY
from keyturn.cloud.access.access_lists import SINGLE_DAY_STANDING_SLOTS, build_access_list
from keyturn.cloud.access.codes import (
    CodeRefused,
    create_single_day_code,
    issue_one_time_code,
    issue_personal_code,
    revoke_single_day_code,
)
from keyturn.cloud.models import Door, Doorcode
from keyturn.cloud.properties.service import door_secret_of
from keyturn.crypto.codes import code_mac, single_day_code
from keyturn.rules.doorcodes import is_weak
from worlds import make_sync_building


def test_rule_a3_personal_codes_are_unique_strong_and_stored_as_macs(session: Session) -> None:
    building = make_sync_building(session)
    door = session.get(Door, building.entrance_id)
    assert door is not None
    secret = door_secret_of(door, MASTER_KEY)
    # A draw that repeats itself forces the uniqueness check to do its work.
    rng = random.Random(7)
    values = [rng.randrange(10**6) for _ in range(5)]
    draws = iter(values * 200)
    codes = []
    for _ in range(5):
        issued = issue_one_time_code(
            session, MASTER_KEY, door.id, None, 30, NOW, draw=lambda n: next(draws) % n
        )
        codes.append(issued.code)
    assert len(set(codes)) == 5
    assert not any(is_weak(code) for code in codes)
    personal = issue_personal_code(session, MASTER_KEY, building.resident_id, door.id, NOW)
    row = session.get(Doorcode, personal.record_id)
    assert row is not None
    assert row.code_mac == code_mac(secret, personal.code)
    assert personal.code.encode() not in row.code_mac


def test_reissuing_a_personal_code_revokes_the_old_one(session: Session) -> None:
    building = make_sync_building(session)
    first = issue_personal_code(
        session, MASTER_KEY, building.resident_id, building.residence_id, NOW
    )
    second = issue_personal_code(
        session, MASTER_KEY, building.resident_id, building.residence_id, NOW + timedelta(minutes=1)
    )
    live = session.scalars(
        select(Doorcode.id).where(
            Doorcode.person_id == building.resident_id, Doorcode.revoked_at.is_(None)
        )
    ).all()
    assert first.record_id not in live
    assert second.record_id in live


def test_rule_a4_single_day_codes_use_the_next_slot_and_match_the_lock_derivation(
    session: Session,
) -> None:
    building = make_sync_building(session)
    door = session.get(Door, building.residence_id)
    assert door is not None
    day = NOW.date()
    issued = [
        create_single_day_code(session, MASTER_KEY, door.id, day, building.resident_id, NOW)
        for _ in range(SINGLE_DAY_STANDING_SLOTS + 1)
    ]
    secret = door_secret_of(door, MASTER_KEY)
    length = door.property.doorcode_length
    assert [i.code for i in issued] == [
        single_day_code(secret, day, slot, length) for slot in range(len(issued))
    ]
    # Past the standing pool, the list tells locks about the extra slot.
    access = build_access_list(session, MASTER_KEY, door.id, NOW)
    assert access.single_day_slots == SINGLE_DAY_STANDING_SLOTS + 1
    revoked = revoke_single_day_code(session, issued[1].record_id, NOW)
    session.flush()
    assert revoked.revoked_at == NOW
    access = build_access_list(session, MASTER_KEY, door.id, NOW)
    assert [(r.local_date, r.slot) for r in access.single_day_revocations] == [(day.isoformat(), 1)]


def test_single_day_codes_for_a_past_day_or_bad_durations_are_refused(session: Session) -> None:
    building = make_sync_building(session)
    with pytest.raises(CodeRefused, match="passed"):
        create_single_day_code(
            session, MASTER_KEY, building.residence_id, NOW.date() - timedelta(days=2), None, NOW
        )
    with pytest.raises(CodeRefused, match="1 to 1440"):
        issue_one_time_code(session, MASTER_KEY, building.entrance_id, None, 0, NOW)
