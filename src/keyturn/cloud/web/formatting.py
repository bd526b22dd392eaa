"""How the portal writes times, durations and sizes for a person: in the property's zone.

Pure functions of their arguments, so templates and tests get the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

JUST_NOW_S = 10


def local_time(value: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    """ "14:02" today, "Fri 4 Dec, 14:02" this year, "4 Dec 2025, 14:02" before; "never"."""
    if value is None:
        return "never"
    here = value.astimezone(zone)
    today = now.astimezone(zone).date()
    clock = here.strftime("%H:%M")
    if here.date() == today:
        return clock
    if here.year == today.year:
        return f"{here:%a} {here.day} {here:%b}, {clock}"
    return f"{here.day} {here:%b %Y}, {clock}"


def local_date(value: datetime | None, zone: ZoneInfo) -> str:
    """ "Sat 5 Dec 2026" in the property's zone; "—" when there is none."""
    if value is None:
        return "—"
    here = value.astimezone(zone)
    return f"{here:%a} {here.day} {here:%b %Y}"


def local_moment(value: datetime, zone: ZoneInfo) -> str:
    """ "Sat 5 Dec 2026, 18:53" in the property's zone: a day and time that stand alone, as in
    an email read on another day."""
    return f"{local_date(value, zone)}, {value.astimezone(zone):%H:%M}"


def ago(value: datetime | None, now: datetime) -> str:
    """ "3 minutes ago", "2 hours ago", "5 days ago"; "never" when there is none."""
    if value is None:
        return "never"
    if abs((now - value).total_seconds()) < JUST_NOW_S:
        return "just now"
    return f"{span(now - value)} ago" if value <= now else f"in {span(value - now)}"


def span(length: timedelta) -> str:
    """A duration in its largest whole unit: "45 seconds", "1 minute", "3 days"."""
    seconds = max(int(length.total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MIDNIGHT = ("00:00", "24:00")
EN_DASH = "\N{EN DASH}"


def schedule_words(windows: Iterable[tuple[int, str, str]]) -> str:
    """A key's weekly windows (weekday 0 = Monday, start, end) in words: "Any time" for none,
    "Every day 06:00-23:00", "Mon-Fri 08:00-18:00; Sat all day" (with en dashes); an end of
    "00:00" is midnight."""
    by_day: dict[int, list[tuple[str, str]]] = {}
    for weekday, start, end in windows:
        by_day.setdefault(weekday, []).append((start, "24:00" if end == "00:00" else end))
    if not by_day:
        return "Any time"
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for weekday in sorted(by_day):
        groups.setdefault(tuple(sorted(set(by_day[weekday]))), []).append(weekday)
    return "; ".join(
        f"{_days_words(days)} {_hours_words(hours)}"
        for hours, days in sorted(groups.items(), key=lambda group: group[1][0])
    )


def key_hours(schedule: Mapping[str, object]) -> str:
    """A key's stored schedule (`Key.schedule_json`: {"windows": [{"weekday", "start",
    "end"}, ...]}) in the words of `schedule_words`."""
    windows = schedule.get("windows")
    if not isinstance(windows, list):
        return schedule_words(())
    return schedule_words(
        (int(item["weekday"]), str(item["start"]), str(item["end"]))
        for item in windows
        if isinstance(item, dict)
    )


def _day_name(weekday: int) -> str:
    return WEEKDAYS[weekday] if 0 <= weekday < len(WEEKDAYS) else f"day {weekday}"


def _days_words(days: list[int]) -> str:
    """ "Every day", "Mon-Fri", "Mon, Wed", "Mon-Wed, Sat" (en dashes) for sorted weekdays."""
    if days == list(range(7)):
        return "Every day"
    runs: list[list[int]] = []
    for weekday in days:
        if runs and weekday == runs[-1][-1] + 1:
            runs[-1].append(weekday)
        else:
            runs.append([weekday])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_day_name(run[0])}{EN_DASH}{_day_name(run[-1])}")
        else:
            parts.extend(_day_name(weekday) for weekday in run)
    return ", ".join(parts)


def _hours_words(hours: tuple[tuple[str, str], ...]) -> str:
    return " and ".join(
        "all day" if (start, end) == MIDNIGHT else f"{start}{EN_DASH}{end}" for start, end in hours
    )


class LockProgress(Protocol):
    """What `rollout_words` reads of one lock's status (access.rollout.LockStatus)."""

    @property
    def door_name(self) -> str: ...
    @property
    def applied(self) -> bool: ...
    @property
    def last_sync_at(self) -> datetime | None: ...


def rollout_words(locks: Sequence[LockProgress], zone: ZoneInfo, now: datetime) -> str:
    """ "Applied at 3 of 5 locks; Lobby not synced since 14:02", "Applied at all 5 locks",
    "No locks at these doors"."""
    if not locks:
        return "No locks at these doors"
    applied = sum(1 for lock in locks if lock.applied)
    if applied == len(locks):
        return "Applied at its lock" if len(locks) == 1 else f"Applied at all {len(locks)} locks"
    waiting = [
        f"{lock.door_name} never synced"
        if lock.last_sync_at is None
        else f"{lock.door_name} not synced since {local_time(lock.last_sync_at, zone, now)}"
        for lock in locks
        if not lock.applied
    ]
    return f"Applied at {applied} of {len(locks)} locks; " + ", ".join(waiting)
