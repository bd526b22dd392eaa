"""What a grant may contain: the start of a guest invitation (A5), the doors of a courier
key (A8), and who may give resident status from when (V2).

The cloud calls these before it stores a grant, so a grant that breaks the rules never
reaches a lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from keyturn.rules.errors import InvalidGrant, ResidentKeyDoor, SelfResidentStatus
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


def resident_status_start(
    *, giver_id: str | None, holder_id: str, starts_at: datetime, now: datetime
) -> datetime:
    """When a grant with resident status given at `now` begins (V2).

    Nobody gives themself resident status (a manager would open a unit's history to
    themself). The status shows a door's history from when it begins, so it never begins
    before it was given: an earlier start becomes `now`.
    """
    require_aware(starts_at, "start")
    require_aware(now, "now")
    if giver_id == holder_id:
        raise SelfResidentStatus("nobody may give themself resident status: ask another manager")
    return max(starts_at, now)


def validate_doors_added(added: Mapping[str, DoorKind], carries_resident_status: bool) -> None:
    """Refuse residence doors added to a key that carries resident status (V2): its holders'
    periods would reach back over the new door's earlier history. A new key for the door,
    granted from now, gives the same access."""
    private = sorted(door_id for door_id, kind in added.items() if kind == DoorKind.RESIDENCE)
    if carries_resident_status and private:
        raise ResidentKeyDoor(
            "this key carries resident status, so it gains no residence door "
            f"({', '.join(private)}): grant a new key for it instead"
        )
