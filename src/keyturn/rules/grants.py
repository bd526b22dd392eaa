"""What a grant may contain: the start of a guest invitation (A5) and the doors of a courier
key (A8).

The cloud calls these before it stores a grant, so a grant that breaks the rules never
reaches a lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from keyturn.rules.errors import InvalidGrant
from keyturn.rules.schedule import require_aware
from keyturn.rules.types import DoorKind

# 366 days so that the same calendar date next year is always accepted, leap year or not.
GUEST_MAX_LEAD = timedelta(days=366)


def validate_guest_window(start: datetime, end: datetime | None, now: datetime) -> None:
    """Refuse a guest invitation that starts more than a year ahead or ends before it is
    useful; `end` None means open-ended. A start in the past simply means "from now"."""
    require_aware(start, "start")
    require_aware(now, "now")
    if start > now + GUEST_MAX_LEAD:
        raise InvalidGrant("a guest invitation may start at most one year ahead")
    if end is None:
        return
    require_aware(end, "end")
    if end <= start:
        raise InvalidGrant("a guest invitation must end after it starts")
    if end <= now:
        raise InvalidGrant("a guest invitation must end in the future")


def courier_doors_allowed(door_kinds: Iterable[DoorKind]) -> bool:
    """Whether a courier key may open doors of these kinds: anything but a residence door."""
    return DoorKind.RESIDENCE not in set(door_kinds)


def validate_courier_doors(doors: Mapping[str, DoorKind]) -> None:
    """Refuse a courier key that includes a residence door, naming the offending doors."""
    private = sorted(door_id for door_id, kind in doors.items() if kind == DoorKind.RESIDENCE)
    if private:
        raise InvalidGrant(f"a courier key may never open residence doors: {', '.join(private)}")
