"""How the portal writes times, durations and sizes for a person: in the property's zone.

Pure functions of their arguments, so templates and tests get the same words.
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
