"""Building a door's access list from keys, grants and credentials, as a lock will hold it.

Every entry is derived here from the cloud's tables; the lock only ever sees MACs of codes
and cards, pseudonymous subjects, and schedules already narrowed to each grant's validity.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.models import (
    Doorcode,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    SingleDayCode,
    key_doors,
)
from keyturn.cloud.people.models import Account, Person
from keyturn.cloud.properties.models import Door, Property
from keyturn.cloud.properties.service import door_secret_of
from keyturn.crypto.codes import card_mac
from keyturn.protocol.access_lists import canonical
from keyturn.protocol.messages import (
    AccessList,
    CredentialSpec,
    ScheduleSpec,
    SingleDayRevocation,
    WindowSpec,
)
from keyturn.rules.errors import InvalidSchedule
from keyturn.rules.schedule import MIDNIGHT, WeeklyWindow
from keyturn.rules.types import CredentialType

log = logging.getLogger(__name__)

# Slots 0..n-1 of every day work at every lock with no sync (see _single_day_slots).
SINGLE_DAY_STANDING_SLOTS = 8

MINUTES_PER_DAY = 1440
# A single-day code stays usable a little after its local midnight (the lock's grace
# window), so the ledger of yesterday still matters to the lock.
SINGLE_DAY_LOOKBACK = timedelta(days=1)
ONE_TIME_SUBJECT_PREFIX = "one-time:"


def subject_for(person_id: str) -> str:
    """The pseudonymous id a lock knows a person by; the one place that mapping is defined."""
    return person_id


def subject_of_one_time_code(code_id: str) -> str:
    """The subject of a one-time code's holder, who is nobody the cloud knows by name."""
    return ONE_TIME_SUBJECT_PREFIX + code_id


def people_for_subjects(session: Session, subjects: Iterable[str]) -> dict[str, str]:
    """Map each subject that names a known person to that person's id; others are left out."""
    wanted = {subject for subject in subjects if subject}
    if not wanted:
        return {}
    found = session.scalars(select(Person.id).where(Person.id.in_(wanted)))
    return {subject_for(person_id): person_id for person_id in found}


def schedule_from_json(data: Mapping[str, Any]) -> tuple[WindowSpec, ...]:
    """The weekly windows of `Key.schedule_json`; InvalidSchedule if the JSON is malformed.

    Shape: {"windows": [{"weekday": 0, "start": "09:00", "end": "17:00"}, ...]} with weekday
    0 = Monday, local wall-clock "HH:MM" times, and "end" "24:00" or "00:00" for the midnight
    that ends the day. No windows (or {}) means any time of the week. A window may not cross
    midnight; split it into two.
    """
    if not isinstance(data, Mapping):
        raise InvalidSchedule("a key's schedule must be a JSON object")
    windows = data.get("windows", [])
    if not isinstance(windows, list):
        raise InvalidSchedule("schedule 'windows' must be a list")
    specs: list[WindowSpec] = []
    for item in windows:
        if not isinstance(item, dict):
            raise InvalidSchedule("each schedule window must be an object")
        weekday = item.get("weekday")
        if not isinstance(weekday, int) or isinstance(weekday, bool):
            raise InvalidSchedule("a window's weekday must be an integer 0-6")
        start = _minute_of_day(item.get("start"))
        end = _minute_of_day(item.get("end")) or MINUTES_PER_DAY
        if start == MINUTES_PER_DAY:
            raise InvalidSchedule("a window cannot start at 24:00")
        # The rules core owns what a valid window is; build one to let it check.
        WeeklyWindow(weekday, _as_time(start), _as_time(end))
        specs.append(WindowSpec(weekday=weekday, start_minute=start, end_minute=end))
    return tuple(sorted(specs, key=lambda w: (w.weekday, w.start_minute, w.end_minute)))


def _minute_of_day(value: object) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise InvalidSchedule(f"a window time is 'HH:MM', got {value!r}")
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        raise InvalidSchedule(f"a window time is 'HH:MM', got {value!r}")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MINUTES_PER_DAY:
        raise InvalidSchedule(f"a window time is 00:00 to 24:00, got {value!r}")
    return total


def _as_time(minute: int) -> time:
    return MIDNIGHT if minute == MINUTES_PER_DAY else time(minute // 60, minute % 60)


def grant_schedule(key: Key, grant: Grant) -> ScheduleSpec:
    """The key's weekly windows narrowed to the grant's [starts_at, ends_at) in epoch seconds."""
    return ScheduleSpec(
        windows=schedule_from_json(key.schedule_json or {}),
        starts_at=math.ceil(grant.starts_at.timestamp()),
        ends_at=math.floor(grant.ends_at.timestamp()) if grant.ends_at is not None else None,
    )


def build_access_list(
    session: Session, master_key: bytes, door_id: str, now: datetime
) -> AccessList:
    """The full access list of a door as of `now`, with version 0 (see the devices service).

    Credentials: live personal doorcodes and active keycards of people holding an active
    grant on a key that opens the door (the grant's key, schedule and resident flag travel
    with the credential), and unexpired one-time codes. Revocations: revoked grants at the
    door by key (grant) id, revoked phone registrations of their holders by credential id
    (a mobile key's credential id is the phone's key id); suspended holders by subject;
    revoked single-day slots; and the property's lockdown flag.
    """
    door = session.get(Door, door_id)
    if door is None:
        raise LookupError(f"no door {door_id}")
    prop = session.get(Property, door.property_id)
    assert prop is not None
    secret = door_secret_of(door, master_key)
    grants = _grants_at_door(session, door_id)
    live = _live_grants(grants, now)
    chosen = _grant_per_person(live)
    upserts = [
        *_doorcode_entries(session, door_id, chosen),
        *_keycard_entries(session, door, secret, chosen),
        *_one_time_entries(session, door_id, now),
    ]
    holders = {grant.person_id for grant, _ in grants}
    revoked_grants = [
        grant.id
        for grant, _ in grants
        if grant.revoked_at is not None and (grant.ends_at is None or grant.ends_at > now)
    ]
    local_today = now.astimezone(prop.zone).date()
    return canonical(
        AccessList(
            door_id=door_id,
            version=0,
            base_version=None,
            issued_at=int(now.timestamp()),
            upserts=tuple(upserts),
            revoked_key_ids=tuple(revoked_grants),
            # A mobile key's credential id is its phone's key id (see access.mobile_keys).
            revoked_credential_ids=tuple(_revoked_phone_keys(session, holders)),
            suspended_subjects=tuple(
                subject_for(person_id) for person_id in _suspended(session, holders)
            ),
            single_day_revocations=_single_day_revocations(
                session, door_id, local_today - SINGLE_DAY_LOOKBACK
            ),
            single_day_slots=_single_day_slots(session, door_id, local_today - SINGLE_DAY_LOOKBACK),
            lockdown=prop.lockdown,
        )
    )


def _grants_at_door(session: Session, door_id: str) -> list[tuple[Grant, Key]]:
    rows = session.execute(
        select(Grant, Key)
        .join(Key, Key.id == Grant.key_id)
        .join(key_doors, key_doors.c.key_id == Key.id)
        .where(key_doors.c.door_id == door_id)
        .order_by(Grant.id)
    ).all()
    return [(grant, key) for grant, key in rows]


def _live_grants(grants: list[tuple[Grant, Key]], now: datetime) -> list[tuple[Grant, Key]]:
    """Grants not revoked and not ended; grants that start later stay, the lock waits for them."""
    return [
        (grant, key)
        for grant, key in grants
        if grant.revoked_at is None and (grant.ends_at is None or grant.ends_at > now)
    ]


def _grant_per_person(live: list[tuple[Grant, Key]]) -> dict[str, tuple[Grant, ScheduleSpec]]:
    """The one grant whose key, schedule and resident flag a person's credentials carry.

    A credential has one schedule on the lock, so when a person holds several grants at the
    door we prefer resident status, then a grant without an end, then the earliest start.
    A grant whose key has a malformed schedule is skipped (fail closed).
    """
    chosen: dict[str, tuple[Grant, ScheduleSpec]] = {}
    ranked = sorted(
        live,
        key=lambda pair: (
            not pair[0].resident,
            pair[0].ends_at is not None,
            pair[0].starts_at,
            pair[0].id,
        ),
    )
    for grant, key in ranked:
        if grant.person_id in chosen:
            continue
        try:
            schedule = grant_schedule(key, grant)
        except InvalidSchedule as exc:
            log.warning("key %s has a malformed schedule, its grants are skipped: %s", key.id, exc)
            continue
        chosen[grant.person_id] = (grant, schedule)
    return chosen


def _entry(
    credential_id: str,
    credential_type: CredentialType,
    lookup: bytes,
    grant: Grant,
    schedule: ScheduleSpec,
) -> CredentialSpec:
    return CredentialSpec(
        credential_id=credential_id,
        credential_type=credential_type,
        lookup=lookup,
        subject=subject_for(grant.person_id),
        key_id=grant.key_id,
        grant_id=grant.id,
        granted_by=grant.created_by,
        resident=grant.resident,
        schedule=schedule,
    )


def _doorcode_entries(
    session: Session, door_id: str, chosen: Mapping[str, tuple[Grant, ScheduleSpec]]
) -> list[CredentialSpec]:
    codes = session.scalars(
        select(Doorcode).where(Doorcode.door_id == door_id, Doorcode.revoked_at.is_(None))
    )
    return [
        _entry(code.id, CredentialType.PERSONAL_DOORCODE, code.code_mac, *chosen[code.person_id])
        for code in codes
        if code.person_id in chosen
    ]


def _keycard_entries(
    session: Session, door: Door, secret: bytes, chosen: Mapping[str, tuple[Grant, ScheduleSpec]]
) -> list[CredentialSpec]:
    if not chosen:
        return []
    cards = session.scalars(
        select(Keycard).where(
            Keycard.property_id == door.property_id,
            Keycard.active.is_(True),
            Keycard.person_id.in_(sorted(chosen)),
        )
    )
    return [
        _entry(
            card.id,
            CredentialType.KEYCARD,
            card_mac(secret, card.card_uid),
            *chosen[card.person_id],
        )
        for card in cards
    ]


def _one_time_entries(session: Session, door_id: str, now: datetime) -> list[CredentialSpec]:
    codes = session.scalars(
        select(OneTimeCode).where(OneTimeCode.door_id == door_id, OneTimeCode.revoked_at.is_(None))
    )
    entries = []
    for code in codes:
        ends_at = None
        if code.first_used_at is not None:
            end = code.first_used_at + timedelta(minutes=code.valid_minutes)
            if end <= now:
                continue
            ends_at = math.floor(end.timestamp())
        entries.append(
            CredentialSpec(
                credential_id=code.id,
                credential_type=CredentialType.ONE_TIME_CODE,
                lookup=code.code_mac,
                subject=subject_of_one_time_code(code.id),
                key_id=None,
                grant_id=None,
                granted_by=code.created_by,
                resident=False,
                schedule=ScheduleSpec(ends_at=ends_at),
                use_window_s=code.valid_minutes * 60,
            )
        )
    return entries


def _revoked_phone_keys(session: Session, holders: set[str]) -> list[str]:
    if not holders:
        return []
    return list(
        session.scalars(
            select(MobileKeyRegistration.phone_key_id).where(
                MobileKeyRegistration.person_id.in_(sorted(holders)),
                MobileKeyRegistration.revoked_at.is_not(None),
            )
        )
    )


def _suspended(session: Session, holders: set[str]) -> list[str]:
    if not holders:
        return []
    return list(
        session.scalars(
            select(Account.person_id).where(
                Account.person_id.in_(sorted(holders)), Account.suspended_at.is_not(None)
            )
        )
    )


def _single_day_revocations(
    session: Session, door_id: str, since: date
) -> tuple[SingleDayRevocation, ...]:
    rows = session.execute(
        select(SingleDayCode.local_date, SingleDayCode.slot).where(
            SingleDayCode.door_id == door_id,
            SingleDayCode.revoked_at.is_not(None),
            SingleDayCode.local_date >= since,
        )
    ).all()
    return tuple(SingleDayRevocation(local_date.isoformat(), slot) for local_date, slot in rows)


def _single_day_slots(session: Session, door_id: str, since: date) -> int:
    """How many slots a lock accepts each day: the standing pool, or more if handed out.

    The standing pool is what lets a code made today work at a lock that has not synced
    since (A4); it also counts as live codes in the door's brute-force margin.
    """
    highest = session.scalar(
        select(func.max(SingleDayCode.slot)).where(
            SingleDayCode.door_id == door_id, SingleDayCode.local_date >= since
        )
    )
    return max(SINGLE_DAY_STANDING_SLOTS, highest + 1 if highest is not None else 0)
