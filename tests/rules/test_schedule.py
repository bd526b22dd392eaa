from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.rules.errors import InvalidSchedule, NaiveDatetime
from keyturn.rules.schedule import (
    ANY_TIME,
    MIDNIGHT,
    Schedule,
    WeeklyWindow,
    overnight_windows,
    single_day_schedule,
    single_day_window,
)
from keyturn.rules.types import Reason

NY = ZoneInfo("America/New_York")
SUNDAY = 6
WEEKDAYS = tuple(range(5))
ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Beirut",
        "Asia/Kolkata",
    )
]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def nine_to_five() -> Schedule:
    return Schedule(tuple(WeeklyWindow(day, time(9), time(17)) for day in WEEKDAYS))


def minutes(start: datetime, end: datetime) -> list[datetime]:
    count = int((end - start) / timedelta(minutes=1))
    return [start + timedelta(minutes=i) for i in range(count)]


def test_window_refuses_bad_weekday_zone_and_reversed_times() -> None:
    with pytest.raises(InvalidSchedule):
        WeeklyWindow(7, time(9), time(17))
    with pytest.raises(InvalidSchedule):
        WeeklyWindow(0, time(22), time(6))
    with pytest.raises(InvalidSchedule):
        WeeklyWindow(0, time(9), time(9))
    with pytest.raises(InvalidSchedule):
        WeeklyWindow(0, time(9, tzinfo=UTC), time(17))


def test_midnight_end_means_end_of_day() -> None:
    whole_day = Schedule((WeeklyWindow(0, MIDNIGHT, MIDNIGHT),))
    late = Schedule((WeeklyWindow(0, time(22), MIDNIGHT),))
    monday_2359 = datetime(2026, 5, 11, 23, 59, 59, tzinfo=NY)
    assert whole_day.allows(monday_2359, NY)
    assert whole_day.allows(datetime(2026, 5, 11, 0, 0, tzinfo=NY), NY)
    assert not whole_day.allows(datetime(2026, 5, 12, 0, 0, tzinfo=NY), NY)
    assert late.allows(monday_2359, NY)
    assert not late.allows(datetime(2026, 5, 11, 21, 59, tzinfo=NY), NY)


def test_overnight_windows_split_at_midnight() -> None:
    friday_night = Schedule(overnight_windows(4, time(22), time(6)))
    assert friday_night.allows(datetime(2026, 5, 8, 23, 0, tzinfo=NY), NY)
    assert friday_night.allows(datetime(2026, 5, 9, 5, 59, tzinfo=NY), NY)
    assert not friday_night.allows(datetime(2026, 5, 9, 6, 0, tzinfo=NY), NY)
    assert not friday_night.allows(datetime(2026, 5, 8, 5, 0, tzinfo=NY), NY)
    assert overnight_windows(6, time(22), time(6))[1].weekday == 0


def test_validity_bounds_are_half_open() -> None:
    start, end = utc(2026, 5, 1), utc(2026, 6, 1)
    schedule = Schedule(starts_at=start, ends_at=end)
    assert schedule.check(start - timedelta(microseconds=1), NY) == Reason.NOT_YET_VALID
    assert schedule.check(start, NY) is None
    assert schedule.check(end - timedelta(microseconds=1), NY) is None
    assert schedule.check(end, NY) == Reason.EXPIRED


def test_expired_wins_over_outside_schedule_and_windows_apply_inside_validity() -> None:
    schedule = Schedule(
        (WeeklyWindow(0, time(9), time(17)),), starts_at=utc(2026, 5, 1), ends_at=utc(2026, 6, 1)
    )
    assert schedule.check(datetime(2026, 6, 1, 10, tzinfo=NY), NY) == Reason.EXPIRED
    assert schedule.check(datetime(2026, 5, 11, 10, tzinfo=NY), NY) is None
    assert schedule.check(datetime(2026, 5, 12, 10, tzinfo=NY), NY) == Reason.OUTSIDE_SCHEDULE


def test_schedule_refuses_naive_and_reversed_datetimes() -> None:
    with pytest.raises(NaiveDatetime):
        Schedule(starts_at=datetime(2026, 5, 1))
    with pytest.raises(InvalidSchedule):
        Schedule(starts_at=utc(2026, 5, 2), ends_at=utc(2026, 5, 1))
    with pytest.raises(NaiveDatetime):
        ANY_TIME.check(datetime(2026, 5, 1), NY)


def test_fall_back_window_covers_both_occurrences_of_the_repeated_hour() -> None:
    schedule = Schedule((WeeklyWindow(SUNDAY, time(1), time(2)),))
    first_0130, second_0130 = utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)
    assert first_0130.astimezone(NY).time() == second_0130.astimezone(NY).time() == time(1, 30)
    assert schedule.allows(first_0130, NY)
    assert schedule.allows(second_0130, NY)
    allowed = [t for t in minutes(utc(2026, 11, 1), utc(2026, 11, 1, 12)) if schedule.allows(t, NY)]
    assert len(allowed) == 120
    assert (allowed[0], allowed[-1]) == (utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 6, 59))


def test_spring_forward_window_in_the_skipped_hour_never_opens() -> None:
    schedule = Schedule((WeeklyWindow(SUNDAY, time(2), time(3)),))
    day = minutes(utc(2026, 3, 8), utc(2026, 3, 9))
    assert not any(schedule.allows(t, NY) for t in day)
    # The same window a week later is an ordinary hour.
    assert schedule.allows(datetime(2026, 3, 15, 2, 30, tzinfo=NY), NY)


def test_office_hours_stay_local_across_spring_forward() -> None:
    schedule = nine_to_five()
    # Friday before the change: 9-17 EST is 14-22 UTC.
    assert not schedule.allows(utc(2026, 3, 6, 13, 30), NY)
    assert schedule.allows(utc(2026, 3, 6, 14, 0), NY)
    assert schedule.allows(utc(2026, 3, 6, 21, 59), NY)
    # Monday after: 9-17 EDT is 13-21 UTC.
    assert schedule.allows(utc(2026, 3, 9, 13, 0), NY)
    assert not schedule.allows(utc(2026, 3, 9, 21, 0), NY)


def test_office_hours_stay_local_across_fall_back() -> None:
    schedule = nine_to_five()
    assert schedule.allows(utc(2026, 10, 30, 13, 0), NY)  # Friday, EDT
    assert not schedule.allows(utc(2026, 11, 2, 13, 0), NY)  # Monday, EST: 08:00 local
    assert schedule.allows(utc(2026, 11, 2, 14, 0), NY)
    assert schedule.allows(utc(2026, 11, 2, 21, 59), NY)


def test_rule_a4_single_day_window_runs_local_midnight_to_midnight() -> None:
    start, end = single_day_window(date(2026, 5, 9), NY)
    assert (start, end) == (utc(2026, 5, 9, 4), utc(2026, 5, 10, 4))
    assert start.tzinfo is UTC


def test_rule_a4_single_day_window_is_23_hours_on_spring_forward() -> None:
    start, end = single_day_window(date(2026, 3, 8), NY)
    assert (start, end) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert end - start == timedelta(hours=23)


def test_rule_a4_single_day_window_is_25_hours_on_fall_back() -> None:
    start, end = single_day_window(date(2026, 11, 1), NY)
    assert (start, end) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert end - start == timedelta(hours=25)


def test_rule_a4_single_day_schedule_refuses_the_neighbouring_days() -> None:
    schedule = single_day_schedule(date(2026, 11, 1), NY)
    assert schedule.check(datetime(2026, 10, 31, 23, 59, tzinfo=NY), NY) == Reason.NOT_YET_VALID
    assert schedule.check(datetime(2026, 11, 1, 23, 59, tzinfo=NY), NY) is None
    assert schedule.check(datetime(2026, 11, 2, 0, 0, tzinfo=NY), NY) == Reason.EXPIRED


@settings(deadline=None, max_examples=300)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
    tz=st.sampled_from(ZONES),
)
def test_rule_a4_single_day_window_matches_the_local_date(day: date, tz: ZoneInfo) -> None:
    start, end = single_day_window(day, tz)
    tick = timedelta(microseconds=1)
    assert start.astimezone(tz).date() == day
    assert (start - tick).astimezone(tz).date() < day
    assert (end - tick).astimezone(tz).date() == day
    assert end.astimezone(tz).date() > day
    assert timedelta(hours=22) <= end - start <= timedelta(hours=26)


minute_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def windows(draw: st.DrawFn) -> WeeklyWindow:
    weekday = draw(st.integers(min_value=0, max_value=6))
    start = draw(minute_of_day)
    end = draw(st.integers(min_value=start + 1, max_value=24 * 60))
    return WeeklyWindow(
        weekday,
        time(start // 60, start % 60),
        MIDNIGHT if end == 24 * 60 else time(end // 60, end % 60),
    )


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


def minute_of_week_oracle(schedule: Schedule, now: datetime, tz: ZoneInfo) -> bool:
    local = now.astimezone(tz)
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    for window in schedule.windows:
        low = window.weekday * 1440 + window.start.hour * 60 + window.start.minute
        end = 1440 if window.end == MIDNIGHT else window.end.hour * 60 + window.end.minute
        if low <= minute < window.weekday * 1440 + end:
            return True
    return False


@settings(deadline=None, max_examples=300)
@given(
    found=st.lists(windows(), min_size=1, max_size=4),
    now=instants,
    tz=st.sampled_from(ZONES),
)
def test_windows_match_a_minute_of_week_oracle(
    found: list[WeeklyWindow], now: datetime, tz: ZoneInfo
) -> None:
    schedule = Schedule(tuple(found))
    assert schedule.allows(now, tz) == minute_of_week_oracle(schedule, now, tz)
    assert schedule.check(now, tz) in (None, Reason.OUTSIDE_SCHEDULE)


@settings(deadline=None, max_examples=200)
@given(
    first=st.lists(windows(), max_size=3),
    second=st.lists(windows(), min_size=1, max_size=3),
    now=instants,
    tz=st.sampled_from(ZONES),
)
def test_adding_windows_only_adds_allowed_instants(
    first: list[WeeklyWindow], second: list[WeeklyWindow], now: datetime, tz: ZoneInfo
) -> None:
    both = Schedule(tuple(first + second))
    either = (first and Schedule(tuple(first)).allows(now, tz)) or Schedule(tuple(second)).allows(
        now, tz
    )
    assert both.allows(now, tz) == bool(either)


@settings(deadline=None, max_examples=200)
@given(now=instants, bounds=st.lists(instants, min_size=2, max_size=2, unique=True))
def test_validity_reason_depends_only_on_the_bounds(now: datetime, bounds: list[datetime]) -> None:
    start, end = sorted(bounds)
    whole_week = tuple(WeeklyWindow(day, MIDNIGHT, MIDNIGHT) for day in range(7))
    for schedule in (Schedule(starts_at=start, ends_at=end), Schedule(whole_week, start, end)):
        expected = Reason.NOT_YET_VALID if now < start else Reason.EXPIRED if now >= end else None
        assert schedule.check(now, NY) == expected
