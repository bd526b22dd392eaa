"""The demo's locks and the residents at their doors: one reference lock per demo door,
provisioned and synced over HTTP like a real one, with simulated residents presenting their
real credentials at a steady pace in real time.

Each lock keeps its state in <data dir>/demo-locks/<door id>, so a restarted demo finds its
locks again; one background thread drives them all, and each lock's near-field service lets
a browser at the door (the resident app) use it too, under the same per-lock guard.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.credentials.mobile_keys import MobileKeyRefused, issue_for_phone
from keyturn.cloud.devices.service import create_provisioning_token, retire_device
from keyturn.cloud.models import Device, Event, MobileKeyRegistration
from keyturn.cloud.sessions import session_factory
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import sign_challenge
from keyturn.lock.agent import Attempt, Lock
from keyturn.lock.config import STORE_FILE
from keyturn.lock.errors import LockError
from keyturn.lock.near_field import NearField
from keyturn.lock.provision import provision_with_cloud
from keyturn.lock.sync import HttpTransport, sync_once
from keyturn.rules.types import Capability, DoorKind
from keyturn.sim.demo_building import DemoBuilding, DemoDoor, DemoResident

LOCKS_DIR = "demo-locks"
SHARED_MODELS = {"Gym": "keyturn-c2"}  # the gym's lock has no camera; other shared doors do
SHARED_MODEL = "keyturn-r1"
# Like the simulator's building: one residence lock in four reads cards, the rest have cameras.
RESIDENCE_MODELS = ("keyturn-m", "keyturn-m", "keyturn-m", "keyturn-c2")
DEFAULT_RATE = 2.0  # attempts per second, all doors together
DEFAULT_SYNC_EVERY_S = 5.0
TICK_S = 1.0
PHONE_REFRESH_S = 6 * 3600.0  # mobile keys last days; phones fetch fresh ones well before
HTTP_TIMEOUT_S = 10.0
MAX_SYNC_ROUNDS = 20
# Shares of attempts that are meant to fail: a mistyped code, the suspended resident.
WRONG_CODE_SHARE = 0.03
SUSPENDED_SHARE = 0.05
MECHANICAL_KEY_SHARE = 0.03
# Where a resident is going: the entrance, home, or one of the other shared doors.
TO_ENTRANCE, TO_HOME = 0.45, 0.35
# How often each credential is chosen when the resident holds several that fit the door.
METHOD_WEIGHTS = {"mobile": 3, "code": 2, "card": 2}


def model_for(door: DemoDoor, position: int) -> str:
    """The model of a new lock at the door, from its place in the building's door list."""
    if door.kind == DoorKind.RESIDENCE:
        return RESIDENCE_MODELS[position % len(RESIDENCE_MODELS)]
    return SHARED_MODELS.get(door.name, SHARED_MODEL)


@dataclass
class DemoLock:
    """One lock at one door, with what it did in this run."""

    door: DemoDoor
    model: str
    lock: Lock
    reused: bool
    guard: threading.RLock = field(default_factory=threading.RLock)
    near_field: NearField | None = None
    attempts: int = 0
    failed_syncs: int = 0
    last_error: str | None = None
    next_sync: float = 0.0


def open_locks(
    engine: Engine, building: DemoBuilding, cloud_url: str, data_dir: Path, now: datetime
) -> list[DemoLock]:
    """Reopen the demo's locks from the data dir, provisioning over HTTP any that are missing.

    A lock folder the cloud does not know as the live lock of its door (a new database, a
    retired lock) is discarded; a door whose live lock lost its folder gets that lock retired
    first, so its unsent entries become a recorded log gap (R4).
    """
    root = data_dir / LOCKS_DIR
    locks: list[DemoLock] = []
    try:
        for position, door in enumerate(building.doors):
            folder = root / door.id
            found = _reopen(engine, folder, door)
            if found is not None:
                item = DemoLock(door, found[1], found[0], reused=True)
            else:
                model = model_for(door, position)
                lock = _provision(engine, folder, door, model, cloud_url, now)
                item = DemoLock(door, model, lock, reused=False)
            locks.append(item)
            if item.lock.settings.has(Capability.BLE):
                item.near_field = NearField(item.lock, guard=item.guard).start()
    except BaseException:
        close_locks(locks)
        raise
    return locks


def close_locks(locks: list[DemoLock]) -> None:
    for item in locks:
        if item.near_field is not None:
            item.near_field.stop()
        item.lock.close()


def _reopen(engine: Engine, folder: Path, door: DemoDoor) -> tuple[Lock, str] | None:
    """The lock in `folder` and its model, if the cloud knows it as the door's live lock."""
    if not (folder / STORE_FILE).exists():
        return None
    try:
        lock = Lock.open(folder)
    except (LockError, ValueError):
        shutil.rmtree(folder)
        return None
    with session_factory(engine)() as session:
        device = session.get(Device, lock.device_id)
        if device is not None and device.retired_at is None and device.door_id == door.id:
            return lock, device.model.name
    lock.close()
    shutil.rmtree(folder)
    return None


def _provision(
    engine: Engine, folder: Path, door: DemoDoor, model: str, cloud_url: str, now: datetime
) -> Lock:
    shutil.rmtree(folder, ignore_errors=True)
    with session_factory(engine)() as session, session.begin():
        bound = session.scalars(
            select(Device.id).where(Device.door_id == door.id, Device.retired_at.is_(None))
        ).first()
        if bound is not None:
            retire_device(session, bound, now, "the demo's lock state was lost; lock replaced")
        token = create_provisioning_token(session, door.id, model, now)
    provision_with_cloud(folder, cloud_url, token, model)
    return Lock.open(folder)


@dataclass
class ResidentPhone:
    """A resident's phone: its key pair and the mobile keys it fetched, by door."""

    resident: DemoResident
    key: SigningKeyPair
    tokens: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Tally:
    attempts: int = 0
    granted: int = 0
    doorcodes: int = 0  # counted only while the cloud is offline
    denied: Counter[str] = field(default_factory=Counter)


class DemoTraffic:
    """Simulated residents at the demo's doors, and a sync of every lock every few seconds.

    `start` runs it on a background thread; `stop` ends it after a last sync of every lock,
    so whatever happened is in the cloud when the demo summarises.
    """

    def __init__(
        self,
        engine: Engine,
        master_key: bytes,
        cloud_url: str,
        building: DemoBuilding,
        locks: list[DemoLock],
        rate: float = DEFAULT_RATE,
        sync_every_s: float = DEFAULT_SYNC_EVERY_S,
    ) -> None:
        self.engine = engine
        self.master_key = master_key
        self.locks = locks
        self.rate = rate
        self.sync_every_s = sync_every_s
        self.tally = Tally()
        self.failure: str | None = None
        self._transport = HttpTransport(cloud_url, timeout_s=HTTP_TIMEOUT_S)
        self._rng = random.Random()  # noqa: S311 - picks who walks where, protects nothing
        self._phones = [ResidentPhone(r, r.phone) for r in building.residents]
        self._active = [phone for phone in self._phones if not phone.resident.suspended]
        self._suspended = [phone for phone in self._phones if phone.resident.suspended]
        self._lock_at = {item.door.id: item for item in locks}
        self._entrances = [item for item in locks if item.door.kind == DoorKind.ENTRANCE]
        self._commons = [
            item for item in locks if item.door.kind not in (DoorKind.ENTRANCE, DoorKind.RESIDENCE)
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keyturn-demo-locks", daemon=True)
        # While the cloud is offline (the demo's switch): what the locks decided on their own.
        self.cloud_offline = threading.Event()
        self.offline_tally = Tally()
        self.on_offline_code: Callable[[str, Attempt], None] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the residents, sync every lock a last time, and wait for that to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._transport.close()

    # -- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # reported by the demo, which then exits non-zero
            self.failure = traceback.format_exc()
        finally:
            for item in self.locks:
                self._sync(item)

    def _loop(self) -> None:
        for item in self.locks:
            self._sync(item)
        self._refresh_phones()
        start = time.monotonic()
        interval = 1.0 / self.rate if self.rate > 0 else float("inf")
        next_attempt = start + interval
        next_tick = start + TICK_S
        next_refresh = start + PHONE_REFRESH_S
        # Spread the syncs over the interval rather than sending them all at once.
        for position, item in enumerate(self.locks):
            item.next_sync = start + self.sync_every_s * (position + 1) / len(self.locks)
        while True:
            due = min(next_attempt, next_tick, next_refresh, *(i.next_sync for i in self.locks))
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            now = time.monotonic()
            if now >= next_attempt:
                self._one_attempt()
                # Never race to catch up after a stall: the pace stays steady.
                next_attempt = max(next_attempt + interval, now)
            for item in self.locks:
                if now >= item.next_sync:
                    self._sync(item)
                    item.next_sync = now + self.sync_every_s
            if now >= next_tick:
                for item in self.locks:
                    with item.guard:
                        item.lock.tick()
                next_tick = now + TICK_S
            if now >= next_refresh:
                self._refresh_phones()
                next_refresh = now + PHONE_REFRESH_S

    def _sync(self, item: DemoLock) -> None:
        """Upload until the lock's journal is empty and apply the cloud's answer."""
        lock = item.lock
        try:
            with item.guard:
                for _ in range(MAX_SYNC_ROUNDS):
                    result = sync_once(lock, self._transport)
                    if lock.journal.last_seq <= result.journal_floor:
                        break
        except LockError as exc:
            item.failed_syncs += 1
            item.last_error = str(exc)

    def _refresh_phones(self) -> None:
        """Every phone fetches fresh mobile keys from the cloud's own service."""
        now = datetime.now(UTC)
        with session_factory(self.engine)() as session, session.begin():
            for phone in self._phones:
                phone.tokens = self._fetch_keys(session, phone.resident, now)

    def _fetch_keys(
        self, session: Session, resident: DemoResident, now: datetime
    ) -> dict[str, bytes]:
        registration = session.get(MobileKeyRegistration, resident.phone_registration_id)
        if registration is None:
            return {}
        try:
            issued = issue_for_phone(session, self.master_key, registration, now)
        except MobileKeyRefused:
            return {}  # suspended, or the phone was revoked: this phone opens nothing
        return {door_id: key.token for key in issued for door_id in key.door_ids}

    # -- people at doors ---------------------------------------------------------------

    def _one_attempt(self) -> None:
        roll = self._rng.random()
        if roll < WRONG_CODE_SHARE:
            self._wrong_code()
            return
        pool = self._suspended if roll < WRONG_CODE_SHARE + SUSPENDED_SHARE else self._active
        if not pool:
            return
        phone = self._rng.choice(pool)
        target = self._destination(phone.resident)
        if target is not None:
            with target.guard:
                self._enter(phone, target)

    def _destination(self, resident: DemoResident) -> DemoLock | None:
        roll = self._rng.random()
        if roll < TO_ENTRANCE and self._entrances:
            return self._rng.choice(self._entrances)
        if roll < TO_ENTRANCE + TO_HOME or not self._commons:
            return self._lock_at.get(resident.home_door_id)
        return self._rng.choice(self._commons)

    def _enter(self, phone: ResidentPhone, item: DemoLock) -> None:
        """One attempt with a credential the resident holds for this door, if any."""
        lock, door_id, resident = item.lock, item.door.id, phone.resident
        settings = lock.settings
        if (
            door_id == resident.home_door_id
            and settings.has(Capability.MECHANICAL_KEY)
            and self._rng.random() < MECHANICAL_KEY_SHARE
        ):
            self._record(item, lock.turn_mechanical_key())
            return
        usable = []
        if settings.has(Capability.BLE) and door_id in phone.tokens:
            usable.append("mobile")
        if settings.has(Capability.KEYPAD) and door_id in resident.codes:
            usable.append("code")
        if settings.has(Capability.CARD_READER) and resident.card_uid is not None:
            usable.append("card")
        if not usable:
            return
        method = self._rng.choices(usable, [METHOD_WEIGHTS[m] for m in usable])[0]
        if method == "mobile":
            challenge = lock.issue_challenge()
            signature = sign_challenge(phone.key, challenge, door_id)
            attempt = lock.present_mobile_key(challenge, phone.tokens[door_id], signature)
        elif method == "code":
            attempt = lock.enter_code(resident.codes[door_id])
        else:
            assert resident.card_uid is not None
            attempt = lock.present_card(resident.card_uid)
        self._record(item, attempt)

    def _wrong_code(self) -> None:
        """Someone types a code that is nobody's, at any door with a keypad."""
        keypads = [item for item in self.locks if item.lock.settings.has(Capability.KEYPAD)]
        if not keypads:
            return
        item = self._rng.choice(keypads)
        length = item.lock.settings.config.code_length
        code = "".join(str(self._rng.randrange(10)) for _ in range(length))
        with item.guard:
            self._record(item, item.lock.enter_code(code))

    def going_offline(self) -> None:
        """The cloud stops answering: count what the locks decide until it is back."""
        self.offline_tally = Tally()
        self.cloud_offline.set()

    def _record(self, item: DemoLock, attempt: Attempt) -> None:
        item.attempts += 1
        self.tally.attempts += 1
        if self.cloud_offline.is_set():
            self._record_offline(item, attempt)
        if attempt.granted:
            self.tally.granted += 1
            # The resident walks through: the door opens while unlatched, then closes.
            item.lock.door_opened()
            item.lock.door_closed()
        else:
            self.tally.denied[attempt.decision.reason.value] += 1

    def _record_offline(self, item: DemoLock, attempt: Attempt) -> None:
        offline = self.offline_tally
        offline.attempts += 1
        if attempt.granted:
            offline.granted += 1
        else:
            offline.denied[attempt.decision.reason.value] += 1
        if attempt.decision.credential_type.is_doorcode:
            offline.doorcodes += 1
            if offline.doorcodes == 1 and self.on_offline_code is not None:
                self.on_offline_code(item.door.name, attempt)


@dataclass(frozen=True, slots=True)
class CloudView:
    """What the cloud holds about the demo's locks: events per lock and each lock's last sync."""

    events: int
    events_by_device: dict[str, int]
    last_sync_by_device: dict[str, datetime | None]


def cloud_view(engine: Engine, property_id: str) -> CloudView:
    with session_factory(engine)() as session:
        total = session.scalar(
            select(func.count()).select_from(Event).where(Event.property_id == property_id)
        )
        by_device = session.execute(
            select(Event.device_id, func.count())
            .where(Event.property_id == property_id)
            .group_by(Event.device_id)
        ).all()
        synced = session.execute(
            select(Device.id, Device.last_sync_at).where(Device.property_id == property_id)
        ).all()
    return CloudView(
        total or 0,
        {device: count for device, count in by_device if device is not None},
        {device: last_sync for device, last_sync in synced},
    )
