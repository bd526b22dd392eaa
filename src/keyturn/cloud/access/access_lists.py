"""Building a door's access list from keys, grants and credentials, as a lock will hold it.

Every entry is derived here from the cloud's tables; the lock only ever sees MACs of codes
and cards, pseudonymous subjects, and schedules already narrowed to each grant's validity.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import (
    Door,
    Doorcode,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    Person,
    Profile,
    Property,
    SingleDayCode,
    key_doors,
)
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
ONE_DAY = timedelta(days=1)
ONE_TIME_SUBJECT_PREFIX = "one-time:"


def subject_for(person_id: str) -> str:
    """The pseudonymous id a lock knows a person by; the one place that mapping is defined."""
    return person_id


def subject_of_one_time_code(code_id: str) -> str:
    """The subject of a one-time code's holder, who is nobody the cloud knows by name."""
    return ONE_TIME_SUBJECT_PREFIX + code_id


def people_for_subjects(session: Session, subjects: Iterable[str]) -> dict[str, str]:
    """Map each subject that names a known person to that person's id; others are left out."""
    return known_people(session, subjects, ())[0]


_PEOPLE_AMONG = select(Person.id).where(Person.id.in_(bindparam("among", expanding=True)))


def known_people(
    session: Session, subjects: Iterable[str | None], person_ids: Iterable[str | None]
) -> tuple[dict[str, str], set[str]]:
    """`people_for_subjects(subjects)` and the known ones among `person_ids`, in one look-up."""
    wanted_subjects = {subject for subject in subjects if subject}
    wanted_ids = {person_id for person_id in person_ids if person_id}
    if not wanted_subjects and not wanted_ids:
        return {}, set()
    found = set(session.scalars(_PEOPLE_AMONG, {"among": sorted(wanted_subjects | wanted_ids)}))
    by_subject = {subject_for(person_id): person_id for person_id in found}
    return (
        {subject: by_subject[subject] for subject in wanted_subjects if subject in by_subject},
        found & wanted_ids,
    )


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
    return schedule_of(key.schedule_json, grant.starts_at, grant.ends_at)


def schedule_of(
    schedule_json: Mapping[str, Any] | None, starts_at: datetime, ends_at: datetime | None
) -> ScheduleSpec:
    """`grant_schedule` from the columns themselves: a key's schedule and a grant's bounds."""
    return _narrowed(
        _windows_of(json.dumps(schedule_json or {}, sort_keys=True)), starts_at, ends_at
    )


def schedule_of_text(
    schedule_text: str | None, starts_at: datetime, ends_at: datetime | None
) -> ScheduleSpec:
    """`schedule_of` from the key's schedule as the database stores it (JSON text).

    For readers that select the column as text: the parsed windows are cached by that text,
    so a schedule read many times is neither decoded nor re-encoded for a cache key.
    """
    return _narrowed(_windows_of(schedule_text or "{}"), starts_at, ends_at)


@lru_cache(maxsize=1024)
def _windows_of(schedule_text: str) -> tuple[WindowSpec, ...]:
    """The windows of one schedule, parsed once per distinct schedule (keys share few)."""
    try:
        data = json.loads(schedule_text)
    except ValueError:
        raise InvalidSchedule("a key's schedule must be JSON") from None
    return schedule_from_json(data)


def _narrowed(
    windows: tuple[WindowSpec, ...], starts_at: datetime, ends_at: datetime | None
) -> ScheduleSpec:
    return ScheduleSpec(
        windows=windows,
        starts_at=math.ceil(starts_at.timestamp()),
        ends_at=math.floor(ends_at.timestamp()) if ends_at is not None else None,
    )


class _GrantAtDoor(NamedTuple):
    """The columns of a grant (and its key's schedule) that a door's list is built from."""

    id: str
    person_id: str
    key_id: str
    starts_at: datetime
    ends_at: datetime | None
    resident: bool
    created_by: str | None
    revoked_at: datetime | None
    schedule_json: dict[str, Any] | None


def build_access_list(
    session: Session, master_key: bytes, door_id: str, now: datetime
) -> AccessList:
    """The full access list of a door as of `now`, with version 0 (see the devices service).

    Credentials: live personal doorcodes and active keycards of people holding an active
    grant on a key that opens the door (the grant's key, schedule and resident flag travel
    with the credential), and unexpired one-time codes. Revocations: revoked grants at the
    door by key (grant) id, revoked phone registrations of their holders and the phones the
    property's portfolio barred, by credential id (a mobile key's credential id is the
    phone's key id); holders suspended in the property's portfolio by subject;
    revoked single-day slots; and the lockdown flag of the property or of the door.
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
    holders = {grant.person_id for grant in grants}
    revoked_grants = [
        grant.id
        for grant in grants
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
            revoked_credential_ids=tuple(_revoked_phone_keys(session, holders, prop.portfolio_id)),
            suspended_subjects=tuple(
                subject_for(person_id)
                for person_id in _suspended(session, holders, prop.portfolio_id)
            ),
            single_day_revocations=_single_day_revocations(
                session, door_id, local_today - SINGLE_DAY_LOOKBACK
            ),
            single_day_slots=_single_day_slots(session, door_id, local_today - SINGLE_DAY_LOOKBACK),
            lockdown=prop.lockdown or door.lockdown,
        )
    )


def access_list_changes_at(session: Session, door_id: str, now: datetime) -> datetime | None:
    """The earliest instant after `now` at which the door's list could change with no write,
    or None if only a write can change it.

    `build_access_list` reads the clock in three places: a grant (live or revoked) drops out
    when it ends, a used one-time code drops out when its window ends, and at local midnight
    the single-day lookback lets go of the oldest day's ledger rows. Until the returned
    instant, a list built at `now` stays exact as long as nothing it is built from is
    written (see access.revisions).
    """
    door = session.get(Door, door_id)
    if door is None:
        raise LookupError(f"no door {door_id}")
    prop = session.get(Property, door.property_id)
    assert prop is not None
    candidates: list[datetime] = []
    since = now.astimezone(prop.zone).date() - SINGLE_DAY_LOOKBACK
    oldest = session.scalar(
        select(func.min(SingleDayCode.local_date)).where(
            SingleDayCode.door_id == door_id, SingleDayCode.local_date >= since
        )
    )
    if oldest is not None:
        # The oldest day still looked back on drops out when the lookback moves past it.
        candidates.append(
            _start_of_local_day(oldest + SINGLE_DAY_LOOKBACK + ONE_DAY, prop.zone, now)
        )
    grant_end = session.scalar(
        select(func.min(Grant.ends_at))
        .join(key_doors, key_doors.c.key_id == Grant.key_id)
        .where(key_doors.c.door_id == door_id, Grant.ends_at > now)
    )
    if grant_end is not None:
        candidates.append(grant_end)
    used = session.execute(
        select(OneTimeCode.first_used_at, OneTimeCode.valid_minutes).where(
            OneTimeCode.door_id == door_id,
            OneTimeCode.revoked_at.is_(None),
            OneTimeCode.first_used_at.is_not(None),
        )
    ).all()
    for first_used_at, valid_minutes in used:
        if first_used_at is None:
            continue
        end = first_used_at + timedelta(minutes=valid_minutes)
        if end > now:
            candidates.append(end)
    return min(candidates, default=None)


def _start_of_local_day(day: date, zone: ZoneInfo, now: datetime) -> datetime:
    """The local midnight that starts `day`; where DST skips or repeats it, the earliest
    reading of it that is still after `now` (early is safe: it only costs a rebuild)."""
    readings = [
        datetime.combine(day, MIDNIGHT, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        for fold in (0, 1)
    ]
    return min((reading for reading in readings if reading > now), default=max(readings))


_GRANTS_AT_DOOR = (
    select(
        Grant.id,
        Grant.person_id,
        Grant.key_id,
        Grant.starts_at,
        Grant.ends_at,
        Grant.resident,
        Grant.created_by,
        Grant.revoked_at,
        Key.schedule_json,
    )
    .join(Key, Key.id == Grant.key_id)
    .join(key_doors, key_doors.c.key_id == Key.id)
    .where(key_doors.c.door_id == bindparam("door"))
    .order_by(Grant.id)
)


def _grants_at_door(session: Session, door_id: str) -> list[_GrantAtDoor]:
    # Plain columns, not entities: a busy door has thousands and is rebuilt at every change.
    return [_GrantAtDoor(*row) for row in session.execute(_GRANTS_AT_DOOR, {"door": door_id})]


def _live_grants(grants: list[_GrantAtDoor], now: datetime) -> list[_GrantAtDoor]:
    """Grants not revoked and not ended; grants that start later stay, the lock waits for them."""
    return [
        grant
        for grant in grants
        if grant.revoked_at is None and (grant.ends_at is None or grant.ends_at > now)
    ]


def _grant_per_person(
    live: list[_GrantAtDoor],
) -> dict[str, tuple[_GrantAtDoor, ScheduleSpec]]:
    """The one grant whose key, schedule and resident flag a person's credentials carry.

    A credential has one schedule on the lock, so when a person holds several grants at the
    door we prefer resident status, then a grant without an end, then the earliest start.
    A grant whose key has a malformed schedule is skipped (fail closed).
    """
    chosen: dict[str, tuple[_GrantAtDoor, ScheduleSpec]] = {}
    windows_of: dict[str, tuple[WindowSpec, ...] | None] = {}  # by key; None: malformed
    ranked = sorted(
        live,
        key=lambda grant: (
            not grant.resident,
            grant.ends_at is not None,
            grant.starts_at,
            grant.id,
        ),
    )
    for grant in ranked:
        if grant.person_id in chosen:
            continue
        if grant.key_id not in windows_of:
            try:
                windows_of[grant.key_id] = schedule_from_json(grant.schedule_json or {})
            except InvalidSchedule as exc:
                log.warning(
                    "key %s has a malformed schedule, its grants are skipped: %s", grant.key_id, exc
                )
                windows_of[grant.key_id] = None
        windows = windows_of[grant.key_id]
        if windows is None:
            continue
        chosen[grant.person_id] = (grant, _narrowed(windows, grant.starts_at, grant.ends_at))
    return chosen


def _entry(
    credential_id: str,
    credential_type: CredentialType,
    lookup: bytes,
    grant: _GrantAtDoor,
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


_LIVE_DOORCODES = select(Doorcode.id, Doorcode.person_id, Doorcode.code_mac).where(
    Doorcode.door_id == bindparam("door"), Doorcode.revoked_at.is_(None)
)


def _doorcode_entries(
    session: Session, door_id: str, chosen: Mapping[str, tuple[_GrantAtDoor, ScheduleSpec]]
) -> list[CredentialSpec]:
    codes = session.execute(_LIVE_DOORCODES, {"door": door_id})
    return [
        _entry(code_id, CredentialType.PERSONAL_DOORCODE, mac, *chosen[person_id])
        for code_id, person_id, mac in codes
        if person_id in chosen
    ]


_ACTIVE_KEYCARDS = select(Keycard.id, Keycard.person_id, Keycard.card_uid).where(
    Keycard.property_id == bindparam("property"),
    Keycard.active.is_(True),
    Keycard.person_id.in_(bindparam("people", expanding=True)),
)


def _keycard_entries(
    session: Session,
    door: Door,
    secret: bytes,
    chosen: Mapping[str, tuple[_GrantAtDoor, ScheduleSpec]],
) -> list[CredentialSpec]:
    if not chosen:
        return []
    cards = session.execute(
        _ACTIVE_KEYCARDS, {"property": door.property_id, "people": sorted(chosen)}
    )
    return [
        _entry(card_id, CredentialType.KEYCARD, card_mac(secret, card_uid), *chosen[person_id])
        for card_id, person_id, card_uid in cards
    ]


_LIVE_ONE_TIME_CODES = select(
    OneTimeCode.id,
    OneTimeCode.code_mac,
    OneTimeCode.created_by,
    OneTimeCode.valid_minutes,
    OneTimeCode.first_used_at,
).where(OneTimeCode.door_id == bindparam("door"), OneTimeCode.revoked_at.is_(None))


def _one_time_entries(session: Session, door_id: str, now: datetime) -> list[CredentialSpec]:
    entries = []
    for code_id, mac, created_by, valid_minutes, first_used_at in session.execute(
        _LIVE_ONE_TIME_CODES, {"door": door_id}
    ):
        ends_at = None
        if first_used_at is not None:
            end = first_used_at + timedelta(minutes=valid_minutes)
            if end <= now:
                continue
            ends_at = math.floor(end.timestamp())
        entries.append(
            CredentialSpec(
                credential_id=code_id,
                credential_type=CredentialType.ONE_TIME_CODE,
                lookup=mac,
                subject=subject_of_one_time_code(code_id),
                key_id=None,
                grant_id=None,
                granted_by=created_by,
                resident=False,
                schedule=ScheduleSpec(ends_at=ends_at),
                use_window_s=valid_minutes * 60,
            )
        )
    return entries


def _revoked_phone_keys(session: Session, holders: set[str], portfolio_id: str) -> list[str]:
    if not holders:
        return []
    return list(
        session.scalars(
            select(MobileKeyRegistration.phone_key_id)
            .outerjoin(
                Profile,
                and_(
                    Profile.person_id == MobileKeyRegistration.person_id,
                    Profile.portfolio_id == portfolio_id,
                ),
            )
            .where(
                MobileKeyRegistration.person_id.in_(sorted(holders)),
                or_(
                    MobileKeyRegistration.revoked_at.is_not(None),
                    MobileKeyRegistration.registered_at <= Profile.phones_barred_before,
                ),
            )
            .order_by(MobileKeyRegistration.phone_key_id)
        )
    )


def _suspended(session: Session, holders: set[str], portfolio_id: str) -> list[str]:
    if not holders:
        return []
    return list(
        session.scalars(
            select(Profile.person_id)
            .where(
                Profile.person_id.in_(sorted(holders)),
                Profile.portfolio_id == portfolio_id,
                Profile.suspended_at.is_not(None),
            )
            .order_by(Profile.person_id)
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
