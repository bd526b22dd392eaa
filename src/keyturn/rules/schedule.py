"""Weekly access windows and validity periods, evaluated in the property's wall-clock time.

A schedule answers "may this key be used at this instant?" for a lock with no network, so
it takes the instant and the property's zone as arguments and never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from keyturn.rules.errors import InvalidSchedule, NaiveDatetime
from keyturn.rules.types import Reason

MIDNIGHT = time(0)


def require_aware(value: datetime, name: str) -> None:
    """Refuse a naive datetime: the rules compare instants, never bare wall-clock readings."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(f"{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """The local wall-clock interval [start, end) on one weekday (0 is Monday).

    An `end` of 00:00 means the midnight that ends the day, so (00:00, 00:00) is the whole
    day. A window may not run past midnight: use `overnight_windows` to split one, which
    keeps "which weekday does 01:00 belong to?" unambiguous.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise InvalidSchedule(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidSchedule("window times are local wall-clock times and carry no zone")
        if self.end != MIDNIGHT and self.end <= self.start:
            raise InvalidSchedule(
                f"window {self.start}-{self.end} ends before it starts; "
                "split windows that cross midnight with overnight_windows()"
            )

    def contains(self, local: datetime) -> bool:
        """Whether a local wall-clock reading falls in the window; both readings of a
        repeated hour match, and a skipped hour never occurs."""
        if local.weekday() != self.weekday:
            return False
        wall = local.time().replace(fold=0)
        return self.start <= wall and (self.end == MIDNIGHT or wall < self.end)


def overnight_windows(weekday: int, start: time, end: time) -> tuple[WeeklyWindow, WeeklyWindow]:
    """The two windows for a period from `start` on `weekday` to `end` on the next day."""
    return (
        WeeklyWindow(weekday, start, MIDNIGHT),
        WeeklyWindow((weekday + 1) % 7, MIDNIGHT, end),
    )


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a key may be used: a validity period [starts_at, ends_at) and weekly windows.

    No windows means any time of the week; a missing bound means open on that side.
    """

    windows: tuple[WeeklyWindow, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.starts_at is not None:
            require_aware(self.starts_at, "starts_at")
        if self.ends_at is not None:
            require_aware(self.ends_at, "ends_at")
        starts_at, ends_at = self.starts_at, self.ends_at
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            raise InvalidSchedule("ends_at must be after starts_at")

    def check(self, now: datetime, tz: tzinfo) -> Reason | None:
        """The reason the schedule refuses `now`, or None when it allows it."""
        require_aware(now, "now")
        if self.starts_at is not None and now < self.starts_at:
            return Reason.NOT_YET_VALID
        if self.ends_at is not None and now >= self.ends_at:
            return Reason.EXPIRED
        if not self.windows:
            return None
        local = now.astimezone(tz)
        if any(window.contains(local) for window in self.windows):
            return None
        return Reason.OUTSIDE_SCHEDULE

    def allows(self, now: datetime, tz: tzinfo) -> bool:
        return self.check(now, tz) is None


ANY_TIME = Schedule()


def single_day_window(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of one local calendar day, for single-day codes (A4).

    The day runs from its local midnight to the next; it lasts 23 or 25 hours when the
    clocks change. A midnight skipped by a change resolves to the instant of the change.
    """
    start = datetime.combine(day, MIDNIGHT, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), MIDNIGHT, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def single_day_schedule(day: date, tz: tzinfo) -> Schedule:
    """The schedule of a single-day doorcode for `day` in the property's zone."""
    start, end = single_day_window(day, tz)
    return Schedule(starts_at=start, ends_at=end)
