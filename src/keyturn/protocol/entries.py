"""What the rules core decides on, made from what a lock holds: list entries and list state.

The lock decides on these and the cloud explains the lock's decisions on the very same ones,
so the conversions from the protocol's messages live here, once, for both.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from functools import lru_cache

from keyturn.protocol.messages import AccessList, CredentialSpec, ScheduleSpec
from keyturn.rules.decide import AccessEntry, LockState
from keyturn.rules.schedule import MIDNIGHT, Schedule, WeeklyWindow

MINUTES_PER_DAY = 1440


@lru_cache(maxsize=MINUTES_PER_DAY + 1)
def minute_of_day(value: int) -> time:
    """A protocol minute of the day (1440 is the midnight ending the day) as a time.

    Cached (one day's worth of immutable times): every mobile key a lock or the cloud reads
    back turns each of its windows' bounds through here.
    """
    if value == MINUTES_PER_DAY:
        return MIDNIGHT
    if not 0 <= value < MINUTES_PER_DAY:
        raise ValueError(f"a minute of the day is 0 to {MINUTES_PER_DAY}, got {value}")
    return time(value // 60, value % 60)


def instant(epoch_s: int | None) -> datetime | None:
    """Protocol epoch seconds as an aware UTC datetime (None stays None)."""
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


def schedule_from_spec(spec: ScheduleSpec) -> Schedule:
    """The rules' Schedule for a protocol ScheduleSpec (epoch seconds, minutes of the day)."""
    return Schedule(
        windows=tuple(
            WeeklyWindow(w.weekday, minute_of_day(w.start_minute), minute_of_day(w.end_minute))
            for w in spec.windows
        ),
        starts_at=instant(spec.starts_at),
        ends_at=instant(spec.ends_at),
    )


def entry_from_spec(spec: CredentialSpec, door_id: str, schedule: Schedule) -> AccessEntry:
    """An access-list credential as decide() sees it; the list is per door."""
    return AccessEntry(
        credential_id=spec.credential_id,
        credential_type=spec.credential_type,
        subject=spec.subject,
        key_id=spec.key_id,
        grant_id=spec.grant_id,
        granted_by=spec.granted_by,
        door_ids=frozenset((door_id,)),
        schedule=schedule,
        resident=spec.resident,
    )


def single_day_credential_id(local_date: str, slot: int) -> str:
    """The credential id a single-day code is journalled under: `single-day:<date>:<slot>`."""
    return f"single-day:{local_date}:{slot}"


def lock_state_of(access_list: AccessList) -> LockState:
    """What a full list tells decide() beyond its entries: revocations, suspensions, lockdown.

    The keypad's cool-down is the lock's own and is not in any list.
    """
    single_day = (
        single_day_credential_id(item.local_date, item.slot)
        for item in access_list.single_day_revocations
    )
    return LockState(
        revoked_credential_ids=frozenset((*access_list.revoked_credential_ids, *single_day)),
        revoked_key_ids=frozenset(access_list.revoked_key_ids),
        suspended_subjects=frozenset(access_list.suspended_subjects),
        lockdown=access_list.lockdown,
    )
