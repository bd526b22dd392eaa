"""The reference oracle: a deliberately plain model of who should get in, kept apart from
the rules core so that the simulator can check the real lock against it.

It knows the ground truth the simulator created (credentials, revocations, suspensions,
move-outs) and, for each lock, the moment its knowledge dates from; it shares no code with
the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Slots of a day's single-day codes that every lock accepts before it hears of them.
STANDING_SLOTS = 8


@dataclass
class Truth:
    """One credential as the simulator created it.

    `kind` is mobile, personal, card, single_day, one_time or mechanical. `needs_list` says
    whether the lock can only know it from its access list (codes and cards); a mobile key
    or a single-day code is checked from its own signature or derivation.
    """

    kind: str
    holder: str | None
    doors: frozenset[str]
    created_at: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    weekdays: frozenset[int] | None = None  # None: any day
    hours: tuple[time, time] | None = None  # local [start, end); None: all day
    revoked_at: datetime | None = None
    day: date | None = None  # single-day codes
    window: timedelta | None = None  # one-time codes: how long after first use
    first_use: datetime | None = None
    slot: int | None = None  # single-day codes
    record_id: str | None = None  # the cloud row, for revoking
    phone_registered_at: datetime | None = None  # mobile keys: when their phone was enrolled
    issued_for: str | None = None  # a lost-phone temporary code: whose it is (not its subject)
    made_by: str | None = None  # a guest's single-day code: the resident who made it

    @property
    def needs_list(self) -> bool:
        return self.kind in ("personal", "card", "one_time")


@dataclass
class Oracle:
    """Who should get in, from the truths the simulator records (`truths`).

    A lost-phone suspension (A6) is modelled as the rule states it: the holder's subject is
    suspended until the suspension is lifted; every phone the holder enrolled up to the
    suspension stays barred for good (a new phone is needed); the holder's live temporary
    codes are revoked when a suspension starts (it issues fresh ones) and when it is lifted.
    A lock applies each of these only once its knowledge dates from after it.

    A move-out takes the doors the resident loses from every credential they hold, from the
    instant it takes effect. Until a lock has synced past that instant it may honestly still
    admit them (it may also already refuse, having heard of a move-out scheduled ahead);
    once it has, it must refuse.
    """

    tz: ZoneInfo
    suspensions: dict[str, list[tuple[datetime, datetime | None]]] = field(default_factory=dict)
    phone_bars: dict[str, list[datetime]] = field(default_factory=dict)
    truths: list[Truth] = field(default_factory=list)
    move_outs: dict[str, list[tuple[datetime, frozenset[str]]]] = field(default_factory=dict)

    def move_out(self, person: str, at: datetime, doors: frozenset[str]) -> None:
        """The person loses `doors` from `at` on, and the guest codes they made go with it."""
        self.move_outs.setdefault(person, []).append((at, doors))
        for truth in self.truths:
            if truth.made_by == person and truth.revoked_at is None:
                truth.revoked_at = at

    def moved_out_at(self, person: str | None, door: str, now: datetime) -> datetime | None:
        """When the person's move-out from `door` took effect, if it has by `now`."""
        effective = [
            at for at, doors in self.move_outs.get(person or "", []) if door in doors and at <= now
        ]
        return min(effective, default=None)

    def either_is_honest(
        self, truth: Truth | None, door: str, now: datetime, known: datetime | None
    ) -> bool:
        """Whether the lock may decide either way: the holder has moved out of the door but
        the lock has not synced since."""
        if truth is None:
            return False
        moved = self.moved_out_at(truth.holder, door, now)
        return moved is not None and (known is None or known < moved)

    def suspend(self, person: str, at: datetime) -> None:
        self.suspensions.setdefault(person, []).append((at, None))
        self.phone_bars.setdefault(person, []).append(at)
        self._revoke_temporary_codes(person, at)

    def lift(self, person: str, at: datetime) -> None:
        start, _ = self.suspensions[person][-1]
        self.suspensions[person][-1] = (start, at)
        self._revoke_temporary_codes(person, at)

    def _revoke_temporary_codes(self, person: str, at: datetime) -> None:
        for truth in self.truths:
            if truth.issued_for == person and truth.revoked_at is None:
                truth.revoked_at = at

    def _suspended_as_of(self, person: str | None, known: datetime) -> bool:
        for start, end in self.suspensions.get(person or "", []):
            if start <= known and (end is None or end > known):
                return True
        return False

    def _phone_barred_as_of(self, truth: Truth, known: datetime) -> bool:
        """Whether a bar the lock knows of covers the phone this mobile key belongs to."""
        if truth.phone_registered_at is None:
            return False
        bars = [at for at in self.phone_bars.get(truth.holder or "", []) if at <= known]
        return bool(bars) and truth.phone_registered_at <= max(bars)

    def expects_grant(
        self, truth: Truth | None, door: str, now: datetime, known: datetime | None
    ) -> bool:
        """Whether the lock at `door`, whose knowledge dates from `known`, should open now."""
        if truth is None:
            return False
        if truth.kind == "mechanical":
            return True
        if known is None:
            known = datetime.min.replace(tzinfo=now.tzinfo)
        if truth.needs_list and truth.created_at > known:
            return False
        extra_slot = truth.slot is not None and truth.slot >= STANDING_SLOTS
        if extra_slot and truth.created_at > known:
            return False
        if truth.revoked_at is not None and truth.revoked_at <= known:
            return False
        if self._suspended_as_of(truth.holder, known):
            return False
        if self._phone_barred_as_of(truth, known):
            return False
        if self.moved_out_at(truth.holder, door, known) is not None:
            return False
        if door not in truth.doors:
            return False
        if truth.valid_from is not None and now < truth.valid_from:
            return False
        if truth.valid_until is not None and now >= truth.valid_until:
            return False
        local = now.astimezone(self.tz)
        if truth.day is not None and local.date() != truth.day:
            return False
        if truth.weekdays is not None and local.weekday() not in truth.weekdays:
            return False
        if truth.hours is not None and not truth.hours[0] <= local.time() < truth.hours[1]:
            return False
        return not (
            truth.window is not None
            and truth.first_use is not None
            and now >= truth.first_use + truth.window
        )
