"""What went wrong in the demo building before the demo began, so the alerts and the door
pages have something to show: a lock replaced before it uploaded its last entries (a log
gap), a door forced open, and a lock whose battery runs low.

Each happens once per demo database, through the real locks and the cloud's own services.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from keyturn.cloud.devices.service import create_provisioning_token, retire_device
from keyturn.cloud.models import Device
from keyturn.cloud.sessions import session_factory
from keyturn.lock.agent import Lock
from keyturn.lock.provision import provision_with_cloud
from keyturn.sim.demo_building import DemoDoor

REPLACED_MODEL = "keyturn-m"
REPLACED_REASON = "water damage: replaced before it uploaded its last entries"
LOW_BATTERY_PCT = 9
FORCED_DOOR = "Package room"
LOW_BATTERY_DOOR = "Gym"


def replace_a_lost_lock(
    engine: Engine, door: DemoDoor, cloud_url: str, folder: Path, now: datetime
) -> bool:
    """Before the door's first demo lock: an earlier lock there logged a forced opening it
    never uploaded, then was retired, leaving a recorded log gap (R4). Only at a door that
    never had a lock; whether it happened now."""
    with session_factory(engine)() as session, session.begin():
        if session.scalar(select(Device.id).where(Device.door_id == door.id)) is not None:
            return False
        token = create_provisioning_token(session, door.id, REPLACED_MODEL, now)
    shutil.rmtree(folder, ignore_errors=True)
    provision_with_cloud(folder, cloud_url, token, REPLACED_MODEL)
    lock = Lock.open(folder)
    try:
        lock.door_opened()
        device_id = lock.device_id
    finally:
        lock.close()
    shutil.rmtree(folder)
    with session_factory(engine)() as session, session.begin():
        retire_device(session, device_id, now, REPLACED_REASON)
    return True


def stage_alarms(locks: dict[str, Lock]) -> None:
    """On new locks (door name -> lock): the package room's door is forced, the gym's lock
    reports a low battery; both reach the cloud at the locks' next sync."""
    forced = locks.get(FORCED_DOOR)
    if forced is not None:
        forced.door_opened()
        forced.door_closed()
    weak = locks.get(LOW_BATTERY_DOOR)
    if weak is not None:
        weak.report_battery(LOW_BATTERY_PCT)
