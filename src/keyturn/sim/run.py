"""A whole building in simulated time: residents, guests, couriers, staff, a dog walker, a lost
phone, power cuts, phone-relayed syncs, a lock that dies before it can sync, and residents who
move out (at once or scheduled ahead) and move in through a daily PMS sync.

Every attempt goes through a real lock and every sync through the cloud's real sync code; the
oracle says what each attempt should have done, and the summary counts where they differ.
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from keyturn.cloud.access.codes import (
    create_single_day_code,
    issue_one_time_code,
    issue_personal_code,
    revoke_single_day_code,
)
from keyturn.cloud.access.credentials.mobile_keys import (
    IssuedKey,
    MobileKeyRefused,
    issue_for_phone,
)
from keyturn.cloud.access.suspension import service as suspension
from keyturn.cloud.db import make_engine, upgrade
from keyturn.cloud.devices.service import retire_device
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import (
    Event,
    Key,
    LogGap,
    MobileKeyRegistration,
    OutboxMessage,
    Person,
    Photo,
    Property,
    RoleMembership,
    SingleDayCode,
)
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.people.pms import service as pms
from keyturn.cloud.people.pms.connectors import FileConnector, PmsResident, write_file
from keyturn.cloud.people.residency import service as residency
from keyturn.cloud.sessions import session_factory
from keyturn.crypto.mobile_keys import sign_challenge
from keyturn.lock.agent import Attempt, Lock
from keyturn.lock.clock import ManualClock
from keyturn.rules.types import Capability, Role
from keyturn.sim.building import (
    EMAIL_DOMAIN,
    TIME_ZONE,
    WALKER_HOURS,
    WALKER_WEEKDAYS,
    SimBuilding,
    SimDoor,
    SimPerson,
    build,
    enrol_new_phone,
    provision_lock,
)
from keyturn.sim.oracle import Oracle, Truth

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday, midnight in New York
SHARED_SYNC_EVERY = timedelta(hours=1)
HOME_SYNC_EVERY = timedelta(hours=6)
TOKEN_TTL = timedelta(days=3)
TOKEN_REFRESH_EVERY = timedelta(days=2)
# A phone relays a sync only for a lock that has not synced for this long (its app's rule).
RELAY_AFTER = timedelta(minutes=30)
COURIER_WINDOW_MIN = 30
# Move-outs: one a day at once, one every other day scheduled this far ahead, both in the day.
SCHEDULED_MOVE_OUT_AHEAD_H = (2.0, 10.0)
# The PMS export is rewritten and synced once a day, at this local hour.
PMS_SYNC_HOUR = 3.5
MAX_DISAGREEMENTS_SHOWN = 10

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SimConfig:
    doors: int = 10
    residents: int = 40
    days: int = 3
    seed: int = 1


@dataclass
class Tally:
    attempts: int = 0
    granted: int = 0
    denied_by_reason: Counter[str] = field(default_factory=Counter)
    photos: int = 0
    syncs: int = 0
    relay_syncs: int = 0
    duplicate_uploads_sent: int = 0
    power_cuts: int = 0
    lost_phone_suspensions: int = 0
    move_outs: int = 0
    scheduled_move_outs: int = 0
    move_ins: int = 0
    lease_changes: int = 0
    pms_syncs: int = 0
    pms_reviews: int = 0
    granted_after_move_out_sync: int = 0
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    disagreement_count: int = 0


class Simulation:
    """One run: the cloud on SQLite in `workdir`, locks in their own folders beside it."""

    def __init__(self, config: SimConfig, workdir: Path) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - a repeatable simulation
        self.workdir = workdir
        self.photo_dir = workdir / "photos"
        self.master_key = self.rng.randbytes(32)
        url = f"sqlite:///{workdir / 'cloud.db'}"
        upgrade(url)
        self.engine: Engine = make_engine(url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.clock = ManualClock(START)
        self.now = START
        self.oracle = Oracle(ZoneInfo(TIME_ZONE))
        self.tally = Tally()
        self.queue: list[tuple[datetime, int, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.end = START + timedelta(days=config.days)
        self.pms_file = workdir / "pms-export.csv"
        self.pms_rows: list[PmsResident] = []
        self._newcomers = itertools.count(1)
        with self.sessions.begin() as session:
            self.building: SimBuilding = build(
                session,
                self.master_key,
                self.rng,
                config.doors,
                config.residents,
                START,
                workdir / "locks",
                self.clock,
                self.oracle.truths,
            )

    # -- the event loop ---------------------------------------------------------------

    def at(self, moment: datetime, action: Callable[[], None], *, last: bool = False) -> None:
        """Run `action` at `moment`; `last` puts it after everything else due at that instant."""
        heapq.heappush(self.queue, (moment, int(last), next(self._order), action))

    def run(self, progress: Progress | None = None) -> dict[str, Any]:
        end = self.end
        for day in range(self.config.days):
            self._plan_day(START + timedelta(days=day), day)
        for door in self.building.doors:
            if not door.relay_only:
                every = SHARED_SYNC_EVERY if door.kind != "residence" else HOME_SYNC_EVERY
                self._every(door, every, end)
        self.phones = [person for person in self.building.people if person.phone is not None]
        self.at(START + timedelta(minutes=1), self._refresher(end))
        total = len(self.queue)
        done = 0
        while self.queue:
            moment, _, _, action = heapq.heappop(self.queue)
            if moment >= end:
                continue
            self.now = moment
            self.clock.set(moment)
            action()
            done += 1
            if progress is not None and done % 500 == 0:
                progress(done, max(total, done + len(self.queue)))
        self.now = end
        self.clock.set(end)
        for door in self.building.doors:
            self._drain(door)
        if progress is not None:
            progress(done, done)
        return self._summary()

    def _every(self, door: SimDoor, every: timedelta, end: datetime) -> None:
        offset = timedelta(minutes=self.rng.randrange(60))
        moment = START + offset
        while moment < end:
            # A sync due at the same instant as a change in the cloud sees that change: the
            # oracle counts what happened by the sync's instant as known to the lock.
            self.at(moment, partial(self._sync, door, direct=True), last=True)
            moment += every

    def _refresher(self, end: datetime) -> Callable[[], None]:
        """Every phone fetches fresh tokens at the same moments, in one cloud transaction."""

        def refresh() -> None:
            self._refresh_tokens(self.phones)
            if self.now + TOKEN_REFRESH_EVERY < end:
                self.at(self.now + TOKEN_REFRESH_EVERY, refresh)

        return refresh

    def _local(self, day_start: datetime, hour: float) -> datetime:
        """The instant `hour` hours after local midnight of the simulated day."""
        local_midnight = day_start.astimezone(self.building.tz).replace(hour=0, minute=0)
        return (local_midnight + timedelta(hours=hour)).astimezone(UTC)

    def _plan_day(self, day_start: datetime, day: int) -> None:
        rng = self.rng
        b = self.building
        for person in b.residents:
            self._plan_resident_day(person, day_start)
        for staff in b.staff:
            for _ in range(4):
                door = rng.choice(b.doors)
                when = self._local(day_start, rng.uniform(8, 18))
                self.at(when, partial(self._staff_visit, staff, door))
        for _ in range(2):
            self.at(self._local(day_start, rng.uniform(8, 18)), self._walker_visit)
        self.at(self._local(day_start, 9), self._courier_delivery)
        for _ in range(3):
            door = rng.choice(b.doors)
            self.at(self._local(day_start, rng.uniform(0, 24)), partial(self._wrong_code, door))
        door = rng.choice(b.doors)
        self.at(self._local(day_start, rng.uniform(0, 24)), partial(self._power_cut, door))
        if day == 1:
            self.at(self._local(day_start, 3), self._brute_force)
        if day == self.config.days // 2:
            self.at(self._local(day_start, 10), self._lose_phone)
        if self.config.days >= 3 and day == (2 * self.config.days) // 3:
            self.at(self._local(day_start, 12), self._kill_a_lock)
        self.at(self._local(day_start, PMS_SYNC_HOUR), partial(self._pms_sync, day))
        if day >= 1:
            self.at(self._local(day_start, rng.uniform(8, 20)), self._move_out_now)
        if day % 2 == 1:
            self.at(self._local(day_start, rng.uniform(7, 12)), self._schedule_move_out)

    def _plan_resident_day(self, person: SimPerson, day_start: datetime) -> None:
        """A resident's day: home once or twice, sometimes the gym, now and then a guest."""
        rng = self.rng
        assert person.home is not None
        for _ in range(1 + (rng.random() < 0.5)):
            when = self._local(day_start, rng.uniform(7, 23))
            if when > self.now:
                self.at(when, partial(self._come_home, person))
        if rng.random() < 0.15:
            when = self._local(day_start, rng.uniform(6, 22))
            if when > self.now:
                self.at(when, partial(self._gym, person))
        if rng.random() < 0.03:
            self._plan_guest(person, day_start)

    # -- people at doors ---------------------------------------------------------------

    def _come_home(self, person: SimPerson) -> None:
        assert person.home is not None
        if person.moved_out:
            # Someone who left comes back to their old door only: wrong codes typed at the
            # entrance by every leaver would lock its keypad for everyone (A7).
            self._enter(person, person.home)
            return
        self._enter(person, self.building.entrance)
        self.at(self.now + timedelta(minutes=2), lambda: self._enter(person, person.home))

    def _gym(self, person: SimPerson) -> None:
        self._enter(person, self.building.gym, methods=("mobile", "card"))

    def _staff_visit(self, person: SimPerson, door: SimDoor) -> None:
        self._enter(person, door, methods=("card", "mobile"))

    def _walker_visit(self) -> None:
        b = self.building
        self._enter(b.walker, b.entrance, methods=("mobile", "code"))
        self.at(self.now + timedelta(minutes=1), lambda: self._enter(b.walker, b.walker_home))

    def _enter(
        self,
        person: SimPerson,
        door: SimDoor | None,
        methods: tuple[str, ...] = ("mobile", "mobile", "code", "card", "mechanical"),
    ) -> None:
        """One attempt by a person, with the first credential they hold that fits the door."""
        if door is None or door.lock is None:
            return
        lock = door.lock
        for method in self.rng.sample(methods, len(methods)):
            if method == "mobile" and lock.settings.has(Capability.BLE):
                token = self._token_for(person, door)
                if token is not None:
                    self._mobile_attempt(person, door, *token)
                    return
            codes = {**person.code_at, **person.temporary_codes}  # the mailed code, if any
            if method == "code" and door.id in codes:
                if self.rng.random() < 0.03:
                    self._wrong_code(door)
                code, truth = codes[door.id]
                self._check(door, truth, lock.enter_code(code))
                return
            if method == "card" and person.card and lock.settings.has(Capability.CARD_READER):
                uid, truth = person.card
                self._check(door, truth, lock.present_card(uid))
                return
            if (
                method == "mechanical"
                and person.role is Role.RESIDENT
                and not person.moved_out
                and lock.settings.has(Capability.MECHANICAL_KEY)
                and self.rng.random() < 0.1
            ):
                truth = Truth("mechanical", person.id, frozenset({door.id}), self.now)
                self._check(door, truth, lock.turn_mechanical_key())
                return

    def _token_for(self, person: SimPerson, door: SimDoor) -> tuple[bytes, Truth] | None:
        usable = [
            (token, truth)
            for token, truth in person.tokens
            if door.id in truth.doors
            and truth.valid_until is not None
            and truth.valid_until > self.now
        ]
        return usable[-1] if usable else None

    def _mobile_attempt(
        self, person: SimPerson, door: SimDoor, token: bytes, truth: Truth, phone: Any = None
    ) -> None:
        lock = door.lock
        assert lock is not None
        signer = phone or person.phone
        assert signer is not None
        challenge = lock.issue_challenge()
        attempt = lock.present_mobile_key(
            challenge, token, sign_challenge(signer, challenge, door.id)
        )
        self._check(door, truth, attempt)
        if door.relay_only and attempt.granted and self._relay_due(door):
            self._sync(door, direct=False)

    def _relay_due(self, door: SimDoor) -> bool:
        return door.synced_at is None or self.now - door.synced_at >= RELAY_AFTER

    def _check(self, door: SimDoor, truth: Truth | None, attempt: Attempt) -> None:
        expected = self.oracle.expects_grant(truth, door.id, self.now, door.known_at)
        t = self.tally
        t.attempts += 1
        if attempt.granted:
            t.granted += 1
        else:
            t.denied_by_reason[attempt.decision.reason.value] += 1
        if attempt.photo_id is not None:
            t.photos += 1
        if attempt.granted and truth is not None and door.known_at is not None:
            moved = self.oracle.moved_out_at(truth.holder, door.id, door.known_at)
            if moved is not None and truth.kind != "mechanical":
                t.granted_after_move_out_sync += 1
        honest_either_way = self.oracle.either_is_honest(truth, door.id, self.now, door.known_at)
        if expected != attempt.granted and not honest_either_way:
            t.disagreement_count += 1
            if len(t.disagreements) < MAX_DISAGREEMENTS_SHOWN:
                t.disagreements.append(
                    {
                        "at": self.now.isoformat(),
                        "door": door.name,
                        "kind": truth.kind if truth else "unknown",
                        "lock": attempt.decision.reason.value,
                        "oracle": "granted" if expected else "denied",
                        "lock_knows_since": door.known_at.isoformat() if door.known_at else None,
                    }
                )
        if attempt.granted:
            if truth is not None and truth.kind == "one_time" and truth.first_use is None:
                truth.first_use = self.now
            assert door.lock is not None
            door.lock.door_opened()
            door.lock.door_closed()

    # -- codes, guests and couriers ------------------------------------------------------

    def _plan_guest(self, host: SimPerson, day_start: datetime) -> None:
        made = self._local(day_start, self.rng.uniform(6, 10))
        arrives = self._local(day_start, self.rng.uniform(11, 22))
        self.at(made, lambda: self._make_guest_codes(host, arrives))

    def _make_guest_codes(self, host: SimPerson, arrives: datetime) -> None:
        assert host.home is not None
        if host.moved_out:
            return
        local_day = self.now.astimezone(self.building.tz).date()
        codes: list[tuple[SimDoor, str, Truth]] = []
        with self.sessions.begin() as session:
            for door in (self.building.entrance, host.home):
                issued = create_single_day_code(
                    session, self.master_key, door.id, local_day, host.id, self.now
                )
                truth = Truth("single_day", None, frozenset({door.id}), self.now, day=local_day)
                truth.made_by = host.id
                truth.slot = _slot_of(session, issued.record_id)
                truth.record_id = issued.record_id
                self.oracle.truths.append(truth)
                codes.append((door, issued.code, truth))
        revoke = self.rng.random() < 0.1
        if revoke:
            self.at(arrives - timedelta(hours=1), lambda: self._revoke_guest(codes))
        self.at(arrives, lambda: self._guest_arrives(codes))
        # Some guests come back the next day; their codes no longer work.
        if self.rng.random() < 0.2:
            self.at(arrives + timedelta(days=1), lambda: self._guest_arrives(codes))

    def _revoke_guest(self, codes: list[tuple[SimDoor, str, Truth]]) -> None:
        with self.sessions.begin() as session:
            for _, _, truth in codes:
                assert truth.record_id is not None
                revoke_single_day_code(session, truth.record_id, self.now)
                truth.revoked_at = self.now

    def _guest_arrives(self, codes: list[tuple[SimDoor, str, Truth]]) -> None:
        for offset, (door, code, truth) in enumerate(codes):
            self.at(self.now + timedelta(minutes=2 * offset), self._typer(door, code, truth))

    def _typer(self, door: SimDoor, code: str, truth: Truth | None) -> Callable[[], None]:
        def type_code() -> None:
            if door.lock is not None:
                self._check(door, truth, door.lock.enter_code(code))

        return type_code

    def _courier_delivery(self) -> None:
        b = self.building
        with self.sessions.begin() as session:
            issued = issue_one_time_code(
                session,
                self.master_key,
                b.package_room.id,
                b.manager.id,
                COURIER_WINDOW_MIN,
                self.now,
                draw=self.rng.randrange,
            )
        truth = Truth(
            "one_time",
            None,
            frozenset({b.package_room.id}),
            self.now,
            window=timedelta(minutes=COURIER_WINDOW_MIN),
        )
        self.oracle.truths.append(truth)
        arrives = self.now + timedelta(hours=self.rng.uniform(2, 6))
        for later in (timedelta(0), timedelta(minutes=10), timedelta(minutes=45)):
            self.at(arrives + later, self._typer(b.package_room, issued.code, truth))

    def _wrong_code(self, door: SimDoor) -> None:
        if door.lock is None:
            return
        length = door.lock.settings.config.code_length
        code = "".join(str(self.rng.randrange(10)) for _ in range(length))
        truth = self._truth_of_code(door, code)
        self._check(door, truth, door.lock.enter_code(code))

    def _truth_of_code(self, door: SimDoor, code: str) -> Truth | None:
        """A random code that happens to be someone's real code is that person's attempt."""
        for person in self.building.people:
            for codes in (person.code_at, person.temporary_codes):
                found = codes.get(door.id)
                if found is not None and found[0] == code:
                    return found[1]
        return None

    def _brute_force(self) -> None:
        door = self.building.package_room
        for n in range(12):
            self.at(self.now + timedelta(seconds=10 * n), partial(self._wrong_code, door))

    # -- phones ----------------------------------------------------------------------------

    def _refresh_tokens(self, people: list[SimPerson]) -> None:
        with self.sessions.begin() as session:
            # Held for the whole batch, since a session keeps only the rows something references:
            # every phone's tokens need the keys with their doors and the property's authority.
            held = [
                session.get(Property, self.building.property_id),
                *session.scalars(select(Key).options(selectinload(Key.doors))),
            ]
            for person in people:
                if person.registration_id is None:
                    continue
                registration = session.get(MobileKeyRegistration, person.registration_id)
                assert registration is not None
                try:
                    issued = issue_for_phone(
                        session, self.master_key, registration, self.now, TOKEN_TTL
                    )
                except MobileKeyRefused:
                    continue
                person.tokens = [(key.token, self._token_truth(person, key)) for key in issued]
            del held

    def _token_truth(self, person: SimPerson, key: IssuedKey) -> Truth:
        walker = person is self.building.walker
        return Truth(
            "mobile",
            person.id,
            frozenset(key.door_ids),
            self.now,
            valid_from=key.not_before,
            valid_until=key.expires,
            weekdays=WALKER_WEEKDAYS if walker else None,
            hours=WALKER_HOURS if walker else None,
            phone_registered_at=person.phone_registered_at,
        )

    def _lose_phone(self) -> None:
        """A resident's phone is stolen; the manager reports it half an hour later through the
        lost-phone flow (A6), which suspends the resident and mails them a temporary code; a
        day later the manager restores their access and they enrol a new phone."""
        b = self.building
        victim = b.residents[0]
        stolen = list(victim.tokens)
        phone = victim.phone
        assert victim.home is not None
        assert phone is not None
        thief_doors = (b.entrance, victim.home)

        def suspend() -> None:
            with self.sessions.begin() as session:
                person = session.get_one(Person, victim.id)
                done = suspension.suspend(
                    session=session,
                    master_key=self.master_key,
                    property_id=b.property_id,
                    person_id=victim.id,
                    suspended_by=b.manager.id,
                    send_temporary_code=True,
                    now=self.now,
                )
                mailed = _mailed_codes(session, person)
            self.tally.lost_phone_suspensions += 1
            self.oracle.suspend(victim.id, self.now)
            victim.tokens = []
            victim.registration_id = None
            victim.phone = None
            for door_id in done.temporary_code_doors:
                door = next(d for d in b.doors if d.id == door_id)
                truth = Truth(
                    "one_time",
                    None,
                    frozenset({door_id}),
                    self.now,
                    window=timedelta(minutes=suspension.TEMPORARY_CODE_MINUTES),
                    issued_for=victim.id,
                )
                self.oracle.truths.append(truth)
                victim.temporary_codes[door_id] = (mailed[door.name], truth)

        def thief_tries(door: SimDoor) -> None:
            if door.lock is None:
                return
            for token, truth in stolen:
                if door.id in truth.doors:
                    self._mobile_attempt(victim, door, token, truth, phone=phone)
                    return

        def restore() -> None:
            with self.sessions.begin() as session:
                suspension.restore(
                    session=session,
                    master_key=self.master_key,
                    property_id=b.property_id,
                    person_id=victim.id,
                    now=self.now,
                )
                enrol_new_phone(session, victim, self.now)
            self.oracle.lift(victim.id, self.now)
            victim.temporary_codes = {}
            self._refresh_tokens([victim])

        self.at(self.now + timedelta(minutes=30), suspend)
        for hours in (0.25, 1, 4, 9, 30):
            for door in thief_doors:
                self.at(self.now + timedelta(hours=hours), partial(thief_tries, door))
        self.at(self.now + timedelta(days=1), restore)

    # -- moving in and out ---------------------------------------------------------------

    def _may_move_out(self, person: SimPerson) -> bool:
        """Residents with a story of their own elsewhere in the run stay."""
        b = self.building
        walker_booker = next(p for p in b.residents if p.home is b.walker_home)
        return (
            not person.moved_out
            and person.membership_id is not None
            and person is not b.residents[0]  # the lost phone
            and person is not walker_booker  # booked the dog walker
            and not person.from_pms  # the PMS would move them back in while it lists them
        )

    def _leaver(self) -> SimPerson | None:
        candidates = [p for p in self.building.residents if self._may_move_out(p)]
        return self.rng.choice(candidates) if candidates else None

    def _move_out_now(self) -> None:
        """A resident moves out at once, through the residency service."""
        person = self._leaver()
        if person is None:
            return
        assert person.membership_id is not None
        with self.sessions.begin() as session:
            residency.move_out(
                session=session,
                master_key=self.master_key,
                property_id=self.building.property_id,
                membership_id=person.membership_id,
                at=self.now,
                by=self.building.manager.id,
                now=self.now,
            )
        self._gone(person, self.now)

    def _schedule_move_out(self) -> None:
        """A move-out booked a few hours ahead; the residency job ends it at its time."""
        person = self._leaver()
        if person is None:
            return
        assert person.membership_id is not None
        at = self.now + timedelta(hours=self.rng.uniform(*SCHEDULED_MOVE_OUT_AHEAD_H))
        with self.sessions.begin() as session:
            residency.move_out(
                session=session,
                master_key=self.master_key,
                property_id=self.building.property_id,
                membership_id=person.membership_id,
                at=at,
                by=self.building.manager.id,
                now=self.now,
            )
        person.moved_out = True  # no longer a candidate; they still live there until `at`
        self.tally.scheduled_move_outs += 1

        def end_due() -> None:
            with self.sessions.begin() as session:
                ended = residency.end_due_residencies(
                    session=session, master_key=self.master_key, now=self.now
                )
            assert person.membership_id in {move.membership_id for move in ended}
            self._gone(person, at)

        self.at(at, end_due)

    def _gone(self, person: SimPerson, at: datetime) -> None:
        """The oracle learns of a move-out that took effect at `at`: the resident keeps no
        other role here, so every door goes."""
        person.moved_out = True
        self.tally.move_outs += 1
        self.oracle.move_out(person.id, at, frozenset(d.id for d in self.building.doors))

    def _pms_sync(self, day: int) -> None:
        """The PMS export changes a little (new leases, a lease ending early, a date moved, a
        name spelled another way) and the sync runs over it, as the scheduled job would."""
        rng = self.rng
        b = self.building
        today = self.now.astimezone(b.tz).date()
        rows = self.pms_rows
        if day >= 1 and rows and rng.random() < 0.7:
            rows.remove(rng.choice(rows))
        if rows and rng.random() < 0.5:
            changed = rng.choice(rows)
            # Beyond the run's end: the grant's window changes, no attempt is affected.
            later = self.end.astimezone(b.tz).date() + timedelta(days=rng.randrange(30, 400))
            rows[rows.index(changed)] = replace(changed, lease_end=later)
        for _ in range(1 + (rng.random() < 0.5)):
            number = next(self._newcomers)
            rows.append(
                PmsResident(
                    name=f"newcomer {number}",
                    email=f"newcomer-{number}@{EMAIL_DOMAIN}",
                    unit=rng.choice(sorted(b.units)),
                    lease_start=today,
                    external_id=f"L-{number}",
                )
            )
        if day == 0:
            known = b.residents[-1]
            assert known.email is not None
            assert known.home is not None
            # Another unit, so it is no resident placed by hand: a partial match to review.
            unit = next(label for label, door in sorted(b.units.items()) if door is not known.home)
            rows.append(PmsResident("Someone Else", known.email, unit, today, None, "L-0"))
        write_file(self.pms_file, rows)
        with self.sessions.begin() as session:
            report = pms.sync(
                session=session,
                master_key=self.master_key,
                property_id=b.property_id,
                connector=FileConnector(self.pms_file),
                dry_run=False,
                now=self.now,
            )
            newcomers = [
                (
                    session.scalars(
                        select(Person.id).where(Person.email == move.lease.email)
                    ).one(),
                    move.lease,
                )
                for move in report.plan.moves_in
            ]
            memberships = dict(
                session.execute(
                    select(RoleMembership.person_id, RoleMembership.id).where(
                        RoleMembership.person_id.in_([person_id for person_id, _ in newcomers]),
                        RoleMembership.in_force(),
                    )
                ).all()
            )
        t = self.tally
        t.pms_syncs += 1
        t.pms_reviews += len(report.plan.reviews)
        t.lease_changes += len(report.plan.lease_changes)
        by_membership = {p.membership_id: p for p in b.residents}
        for move in report.plan.moves_out:
            self._gone(by_membership[move.residency.membership_id], self.now)
        for person_id, lease in newcomers:
            self._arrive(person_id, lease.email, b.units[lease.unit], memberships[person_id])

    def _arrive(self, person_id: str, email: str, home: SimDoor, membership_id: str) -> None:
        """A resident the PMS moved in: consent in the app, a phone, a code at their door."""
        person = SimPerson(
            person_id,
            Role.RESIDENT,
            home=home,
            membership_id=membership_id,
            email=email,
            from_pms=True,
        )
        with self.sessions.begin() as session:
            consent.record_in_app(
                session=session, person=session.get_one(Person, person_id), now=self.now
            )
            enrol_new_phone(session, person, self.now)
            issued = issue_personal_code(
                session=session,
                master_key=self.master_key,
                person_id=person_id,
                door_id=home.id,
                now=self.now,
                draw=self.rng.randrange,
            )
        truth = Truth("personal", person_id, frozenset({home.id}), self.now)
        self.oracle.truths.append(truth)
        person.code_at[home.id] = (issued.code, truth)
        self.building.people.append(person)
        self.phones.append(person)
        self.tally.move_ins += 1
        self._refresh_tokens([person])
        local_today = self.now.astimezone(self.building.tz).date()
        day = START
        while day < self.end:
            if day.astimezone(self.building.tz).date() >= local_today:
                self._plan_resident_day(person, day)
            day += timedelta(days=1)

    # -- locks -----------------------------------------------------------------------------

    def _sync(self, door: SimDoor, direct: bool) -> None:
        """One exchange with the cloud, directly or through a phone, until the lock is empty."""
        lock = door.lock
        if lock is None:
            return
        while True:
            frame = lock.build_uplink()
            with self.sessions.begin() as session:
                reply = handle_uplink(session, self.master_key, self.photo_dir, frame, self.now)
            if self.rng.random() < 0.05:  # a carrier that sends the same bytes twice
                with self.sessions.begin() as session:
                    handle_uplink(session, self.master_key, self.photo_dir, frame, self.now)
                self.tally.duplicate_uploads_sent += 1
            result = lock.apply_downlink(reply)
            door.synced_at = self.now
            self.tally.syncs += 1
            if not direct:
                self.tally.relay_syncs += 1
            applied = result.access_list
            if applied is None or applied.applied or "not newer" in (applied.refusal or ""):
                door.known_at = self.now
            if lock.journal.last_seq <= result.journal_floor:
                return

    def _drain(self, door: SimDoor) -> None:
        """At the end every lock still alive syncs (relay-only ones through a last phone)."""
        self._sync(door, direct=not door.relay_only)

    def _power_cut(self, door: SimDoor) -> None:
        if door.lock is None or door.lock_dir is None:
            return
        door.lock.close()
        door.lock = Lock.open(door.lock_dir, self.clock, power_lost=True)
        self.tally.power_cuts += 1

    def _kill_a_lock(self) -> None:
        """A residence lock breaks before syncing: its unsent entries are gone for good (R4)."""
        b = self.building
        door = next(d for d in b.doors if d.kind == "residence" and not d.relay_only)
        lock = door.lock
        assert lock is not None
        assert door.lock_dir is not None
        door.retired_devices.append((lock.device_id, lock.journal.last_seq))
        lock.close()
        shutil.rmtree(door.lock_dir)
        door.lock = None
        with self.sessions.begin() as session:
            retire_device(session, door.retired_devices[-1][0], self.now, "lock failed")

        def replace() -> None:
            with self.sessions.begin() as session:
                provision_lock(
                    session, self.master_key, door, self.workdir / "locks", self.clock, self.now
                )
            self._sync(door, direct=True)

        self.at(self.now + timedelta(hours=2), replace)

    # -- the summary -------------------------------------------------------------------

    def _summary(self) -> dict[str, Any]:
        generated: dict[str, int] = {}
        for door in self.building.doors:
            for device_id, last_seq in door.retired_devices:
                generated[device_id] = last_seq
            if door.lock is not None:
                generated[door.lock.device_id] = door.lock.journal.last_seq
        with self.sessions() as session:
            in_cloud = session.scalar(select(func.count()).select_from(Event)) or 0
            stored = {
                (device, seq)
                for device, seq in session.execute(select(Event.device_id, Event.device_seq))
            }
            gaps = session.execute(select(LogGap.device_id, LogGap.from_seq, LogGap.to_seq)).all()
            duplicates = session.scalar(
                select(func.count()).select_from(
                    select(Event.device_id, Event.device_seq)
                    .group_by(Event.device_id, Event.device_seq)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            photos_in_cloud = session.scalar(select(func.count()).select_from(Photo)) or 0
        unaccounted = 0
        for device_id, last_seq in generated.items():
            device_gaps = [(lo, hi) for dev, lo, hi in gaps if dev == device_id]
            for seq in range(1, last_seq + 1):
                if (device_id, seq) in stored:
                    continue
                if not any(lo <= seq and (hi is None or seq <= hi) for lo, hi in device_gaps):
                    unaccounted += 1
        t = self.tally
        total_generated = sum(generated.values())
        return {
            "doors": self.config.doors,
            "residents": self.config.residents,
            "days": self.config.days,
            "seed": self.config.seed,
            "attempts": t.attempts,
            "granted": t.granted,
            "denied_by_reason": dict(sorted(t.denied_by_reason.items())),
            "photos": t.photos,
            "photos_in_cloud": photos_in_cloud,
            "events_generated": total_generated,
            "events_in_cloud": in_cloud,
            "lost_events": total_generated - in_cloud,
            "log_gaps_recorded": len(gaps),
            "unaccounted_events": unaccounted,
            "duplicate_events": duplicates or 0,
            "duplicate_uploads_sent": t.duplicate_uploads_sent,
            "syncs": t.syncs,
            "relay_syncs": t.relay_syncs,
            "power_cuts": t.power_cuts,
            "lost_phone_suspensions": t.lost_phone_suspensions,
            "move_outs": t.move_outs,
            "scheduled_move_outs": t.scheduled_move_outs,
            "move_ins": t.move_ins,
            "lease_changes": t.lease_changes,
            "pms_syncs": t.pms_syncs,
            "pms_reviews": t.pms_reviews,
            "granted_after_move_out_sync": t.granted_after_move_out_sync,
            "oracle_disagreements": t.disagreement_count,
            "disagreement_examples": t.disagreements,
        }

    def close(self) -> None:
        for door in self.building.doors:
            if door.lock is not None:
                door.lock.close()
        self.engine.dispose()


def _mailed_codes(session: Session, person: Person) -> dict[str, str]:
    """The temporary code per door name, as the person reads it in the lost-phone email."""
    body = session.scalars(
        select(OutboxMessage.body_text)
        .where(OutboxMessage.person_id == person.id)
        .order_by(OutboxMessage.created_at.desc())
    ).first()
    assert body is not None
    found = re.findall(r"^  (.+): (\d+)$", body, flags=re.MULTILINE)
    return dict(found)


def _slot_of(session: Session, record_id: str) -> int:
    row = session.get(SingleDayCode, record_id)
    assert row is not None
    return row.slot


def simulate(config: SimConfig, workdir: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Run one simulation in `workdir` (which must be empty) and return its summary."""
    simulation = Simulation(config, workdir)
    try:
        return simulation.run(progress)
    finally:
        simulation.close()
