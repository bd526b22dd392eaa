"""Every door of a property with its lock's health, on both backends (`devices.listing`).

The lock at the entrance really syncs (sealed uplinks through `handle_uplink`), the gym's lock
was provisioned and never synced, the residence door has no lock; health is the devices
service's own, so the listing and the health route cannot disagree.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fake_lock import NOW, FakeLock, provision_fake_lock
from sqlalchemy.orm import Session

from factories import MASTER_KEY
from keyturn.cloud.devices.listing import doors_with_locks
from keyturn.cloud.devices.service import device_health
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import LogGap
from worlds import SyncBuilding, make_sync_building


@pytest.fixture
def building(session: Session) -> SyncBuilding:
    return make_sync_building(session)


def synced(session: Session, building: SyncBuilding, lock: FakeLock, tmp_path: Path) -> None:
    """Two syncs: the first brings the list, the second reports it applied."""
    authority = building.authority.public_bytes()
    for minutes in (0, 1):
        frame = handle_uplink(
            session, MASTER_KEY, tmp_path, lock.uplink([]), NOW + timedelta(minutes=minutes)
        )
        session.commit()
        downlink = lock.open(frame, authority)
        if downlink.access_list is not None:
            lock.applied_version = downlink.access_list.version


def test_every_door_with_its_lock_health_and_unbound_doors_as_such(
    session: Session, building: SyncBuilding, tmp_path: Path
) -> None:
    entrance = provision_fake_lock(session, building.entrance_id)
    gym = provision_fake_lock(session, building.gym_id, model="keyturn-c2")
    session.add(LogGap(device_id=entrance.device_id, door_id=building.entrance_id, from_seq=4))
    session.commit()
    synced(session, building, entrance, tmp_path)
    later = NOW + timedelta(hours=2)

    listed = {
        door.door_name: door
        for door in doors_with_locks(
            session=session, property_id=building.property_id, now=later, master_key=MASTER_KEY
        )
    }

    assert sorted(listed) == ["Gym", "Main entrance", "Unit 1A"]
    assert listed["Unit 1A"].lock is None
    assert listed["Unit 1A"].door_kind == "residence"
    front = listed["Main entrance"]
    assert front.lock is not None
    assert front.lock == device_health(session, entrance.device_id, later, master_key=MASTER_KEY)
    assert (front.lock.battery_pct, front.lock.firmware_version) == (87, 3)
    assert front.lock.last_sync_at == NOW + timedelta(minutes=1)
    assert front.lock.applied_access_list_version == front.lock.current_access_list_version >= 1
    assert front.lock.versions_behind == 0
    assert front.log_gap_count == 1
    assert "camera" in front.capabilities
    idle = listed["Gym"]
    assert idle.lock is not None
    assert idle.lock.device_id == gym.device_id
    assert idle.lock.model == "keyturn-c2"
    assert "camera" not in idle.capabilities
    assert idle.lock.last_sync_at is None
    assert idle.lock.versions_behind == idle.lock.current_access_list_version >= 1
    assert idle.log_gap_count == 0


def test_without_the_master_key_the_newest_published_list_is_compared(
    session: Session, building: SyncBuilding, tmp_path: Path
) -> None:
    gym = provision_fake_lock(session, building.gym_id)
    session.commit()

    (listed,) = [
        door.lock
        for door in doors_with_locks(
            session=session, property_id=building.property_id, now=NOW, master_key=None
        )
        if door.lock is not None
    ]

    assert listed.device_id == gym.device_id
    assert listed.current_access_list_version == 0
    assert listed.versions_behind == 0
