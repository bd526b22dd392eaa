"""Why can (or can't) this person open this door at that time, and who can: the lock's answer.

Both questions are answered by running the rules core's `decide()` on the very entries and
revocations the door's lock holds (the list version it last applied, kept by the cloud as
content), never by a second reading of the rules; the steps only put the facts decide() was
given into a manager's words, in the check order of its docstring.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    and_,
    bindparam,
    cast,
    column,
    exists,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.selectable import TextualSelect

from keyturn.cloud.access.access_lists import build_access_list, schedule_of, subject_for
from keyturn.cloud.access.credentials.mobile_keys import DEFAULT_TTL
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.models import (
    AccessListVersion,
    Device,
    Door,
    Doorcode,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    Person,
    Profile,
    Property,
    RoleMembership,
    key_doors,
)
from keyturn.cloud.privacy import audit
from keyturn.cloud.properties.service import property_by_reference
from keyturn.crypto.mobile_keys import MobileKeyClaims, token_window
from keyturn.protocol.access_lists import content_from_bytes
from keyturn.protocol.entries import entry_from_spec, lock_state_of, schedule_from_spec
from keyturn.protocol.messages import AccessList, CredentialSpec
from keyturn.protocol.mobile_claims import entry_from_claims, token_schedule_claim
from keyturn.rules.decide import AccessEntry, LockState, Presentation, decide
from keyturn.rules.errors import InvalidSchedule
from keyturn.rules.schedule import MIDNIGHT, Schedule, WeeklyWindow
from keyturn.rules.types import CredentialType, DoorKind, Reason

# The credential types a person holds; single-day and one-time codes belong to nobody.
PERSONAL_TYPES = (
    CredentialType.MOBILE_KEY,
    CredentialType.PERSONAL_DOORCODE,
    CredentialType.KEYCARD,
)
TYPE_WORDS = {
    CredentialType.MOBILE_KEY: "mobile key",
    CredentialType.PERSONAL_DOORCODE: "personal doorcode",
    CredentialType.KEYCARD: "keycard",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LOCAL_FORMAT = "%a %Y-%m-%d %H:%M %Z"


class Check:
    """The checks of `rules.decide.decide`, in its order; each step names one."""

    KEYPAD = "keypad"
    LOCKDOWN = "lockdown"
    CREDENTIAL = "credential"
    SUSPENSION = "suspension"
    REVOCATION = "revocation"
    DOOR = "door"
    VALIDITY = "validity"
    SCHEDULE = "schedule"


CHECK_ORDER = (
    Check.KEYPAD,
    Check.LOCKDOWN,
    Check.CREDENTIAL,
    Check.SUSPENSION,
    Check.REVOCATION,
    Check.DOOR,
    Check.VALIDITY,
    Check.SCHEDULE,
)
# Which check produced each refusal: decide() gives the reason, this only places it.
FAILED_CHECK = {
    Reason.KEYPAD_LOCKED_OUT: Check.KEYPAD,
    Reason.LOCKDOWN: Check.LOCKDOWN,
    Reason.UNKNOWN_CREDENTIAL: Check.CREDENTIAL,
    Reason.SUSPENDED: Check.SUSPENSION,
    Reason.REVOKED: Check.REVOCATION,
    Reason.WRONG_DOOR: Check.DOOR,
    Reason.NOT_YET_VALID: Check.VALIDITY,
    Reason.EXPIRED: Check.VALIDITY,
    Reason.OUTSIDE_SCHEDULE: Check.SCHEDULE,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One check of the decision: `outcome` is passed, failed or not_checked."""

    check: str
    outcome: str
    text: str


@dataclass(frozen=True, slots=True)
class CredentialAnswer:
    """What the lock decides for one of the person's credentials, and why."""

    credential_type: CredentialType
    credential_id: str | None
    label: str
    reason: Reason
    key_id: str | None = None
    key_name: str | None = None
    grant_id: str | None = None
    resident: bool = False
    steps: tuple[Step, ...] = ()
    # The decision on the newest list, when the lock holds an older one.
    after_sync: Reason | None = None

    @property
    def opens(self) -> bool:
        return self.reason == Reason.GRANTED


@dataclass(frozen=True, slots=True)
class LockView:
    """Which list the answer was decided on, against the newest the cloud published."""

    device_id: str | None
    applied_version: int | None
    newest_version: int | None
    evaluated_version: int | None
    last_sync_at: datetime | None
    up_to_date: bool
    note: str


@dataclass(frozen=True, slots=True)
class Explanation:
    property_id: str
    person_id: str
    person_name: str
    door_id: str
    door_name: str
    door_kind: DoorKind
    at: datetime
    local_time: str
    time_zone: str
    lock: LockView
    credentials: tuple[CredentialAnswer, ...]
    missing: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def opens(self) -> bool:
        return any(answer.opens for answer in self.credentials)

    @property
    def summary(self) -> str:
        who, door, when = self.person_name, self.door_name, self.local_time
        opening = [a.label for a in self.credentials if a.opens]
        if opening:
            return f"{who} can open {door} at {when} with: {', '.join(opening)}."
        if not self.credentials:
            return f"{who} cannot open {door} at {when}: they hold no credential for it."
        reasons = ", ".join(sorted({a.reason.value for a in self.credentials}))
        return f"{who} cannot open {door} at {when} (the lock would journal: {reasons})."


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One way one person opens the door at the instant reviewed."""

    person_id: str
    person_name: str
    credential_type: CredentialType
    credential_id: str
    label: str
    key_id: str | None
    key_name: str | None
    grant_id: str | None
    resident: bool


@dataclass(frozen=True, slots=True)
class AccessReview:
    property_id: str
    door_id: str
    door_name: str
    door_kind: DoorKind
    at: datetime
    local_time: str
    lock: LockView
    people: tuple[ReviewRow, ...]
    notes: tuple[str, ...] = ()


# -- what the door's lock holds --------------------------------------------------------------

_NEWEST = aliased(AccessListVersion)
_NEWEST_VERSION = (
    select(func.max(AccessListVersion.version))
    .where(AccessListVersion.door_id == Door.id)
    .correlate(Door)
    .scalar_subquery()
)
# The version the cloud answered the lock's last sync with: the newest one by then.
_SENT_VERSION = (
    select(func.max(AccessListVersion.version))
    .where(
        AccessListVersion.door_id == Door.id,
        AccessListVersion.created_at <= Device.last_sync_at,
    )
    .correlate(Door, Device)
    .scalar_subquery()
)
# The person asked about, if they have a role at the property or a grant of one of its keys.
_PERSON_NAME = (
    select(Person.display_name)
    .where(
        Person.id == bindparam("person"),
        or_(
            exists().where(
                RoleMembership.person_id == Person.id,
                RoleMembership.property_id == bindparam("property"),
            ),
            exists().where(
                Grant.person_id == Person.id,
                Key.id == Grant.key_id,
                Key.property_id == bindparam("property"),
            ),
        ),
    )
    .scalar_subquery()
)


def _at_door(*columns: Any) -> Any:
    """A select of `columns` from the door asked about (at the property), its live lock and
    its newest list version: the one row every answer starts from."""
    return (
        select(*columns)
        .join(Property, Property.id == Door.property_id)
        .outerjoin(Device, and_(Device.door_id == Door.id, Device.retired_at.is_(None)))
        .outerjoin(_NEWEST, and_(_NEWEST.door_id == Door.id, _NEWEST.version == _NEWEST_VERSION))
        .where(Door.id == bindparam("door"), Door.property_id == bindparam("property"))
    )


# One row: the door, its live lock, the versions that matter and the person's name.
_DOOR = _at_door(
    Door.name,
    Door.kind,
    Property.time_zone,
    Property.portfolio_id,
    _PERSON_NAME,
    Device.id,
    Device.applied_access_list_version,
    _SENT_VERSION,
    Device.last_sync_at,
    _NEWEST.version,
    _NEWEST.content_hash,
)
_VERSION = select(AccessListVersion.content_hash, AccessListVersion.content).where(
    AccessListVersion.door_id == bindparam("door"),
    AccessListVersion.version == bindparam("version"),
)
_HASH = select(AccessListVersion.content_hash).where(
    AccessListVersion.door_id == bindparam("door"),
    AccessListVersion.version == bindparam("version"),
)
# Decoded lists by (door, version, content hash): a published version never changes, and a
# busy door's list takes longer to decode than everything else an answer needs.
_DECODED_KEPT = 64
_decoded: OrderedDict[tuple[str, int, bytes], _Index] = OrderedDict()
_decoded_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Door:
    id: str
    property_id: str
    name: str
    kind: DoorKind
    zone: ZoneInfo
    portfolio_id: str


class _Index:
    """One list as decide() sees it: its state, and its entries by credential id."""

    def __init__(self, access_list: AccessList) -> None:
        self.access_list = access_list
        self.state = lock_state_of(access_list)
        self.by_id = {spec.credential_id: spec for spec in access_list.upserts}
        self._entries: dict[str, AccessEntry] = {}
        self._by_subject: dict[str, list[CredentialSpec]] | None = None

    def of_subject(self, subject: str) -> list[CredentialSpec]:
        """The entries of one holder, as the list holds them."""
        if self._by_subject is None:
            by_subject: dict[str, list[CredentialSpec]] = {}
            for spec in self.access_list.upserts:
                by_subject.setdefault(spec.subject, []).append(spec)
            self._by_subject = by_subject
        return self._by_subject.get(subject, [])

    def entry(self, credential_id: str, door_id: str) -> AccessEntry | None:
        spec = self.by_id.get(credential_id)
        if spec is None:
            return None
        entry = self._entries.get(credential_id)
        if entry is None:
            entry = entry_from_spec(spec, door_id, schedule_from_spec(spec.schedule))
            self._entries[credential_id] = entry
        return entry


@dataclass(frozen=True, slots=True)
class _Held:
    """The list the answer is decided on, and the newest one when the lock holds another."""

    lock: LockView
    index: _Index
    newest: _Index | None = None

    @property
    def state(self) -> LockState:
        return self.index.state

    @property
    def by_id(self) -> Mapping[str, CredentialSpec]:
        return self.index.by_id

    @property
    def access_list(self) -> AccessList:
        return self.index.access_list

    def entry(self, credential_id: str, door_id: str) -> AccessEntry | None:
        return self.index.entry(credential_id, door_id)


def _read(session: Session) -> Connection:
    """The session's connection, for these plain reads: Core rows, without the ORM's pass
    over every statement (they change nothing and load no entity)."""
    return session.connection()


def _door(
    session: Session, property_id: str, door_id: str, person_id: str | None
) -> tuple[_Door, str | None, Sequence[Any]]:
    row = (
        _read(session)
        .execute(_DOOR, {"door": door_id, "property": property_id, "person": person_id})
        .first()
    )
    if row is None:
        raise NotFound()
    name, kind, time_zone, portfolio_id, person_name, *lock = row
    door = _Door(door_id, property_id, name, DoorKind(kind), ZoneInfo(time_zone), portfolio_id)
    return door, person_name, lock


def _index(
    session: Session, door_id: str, version: int, content_hash: bytes | None
) -> _Index | None:
    """The decoded list of one version, from the cache or the database; None if not kept."""
    if content_hash is None:
        content_hash = _read(session).execute(_HASH, {"door": door_id, "version": version}).scalar()
        if content_hash is None:
            return None
    cache_key = (door_id, version, content_hash)
    with _decoded_lock:
        found = _decoded.get(cache_key)
        if found is not None:
            _decoded.move_to_end(cache_key)
            return found
    row = _read(session).execute(_VERSION, {"door": door_id, "version": version}).first()
    if row is None or row[1] is None:
        return None
    index = _Index(content_from_bytes(row[1]))
    with _decoded_lock:
        _decoded[cache_key] = index
        while len(_decoded) > _DECODED_KEPT:
            _decoded.popitem(last=False)
    return index


def _held(
    session: Session, master_key: bytes, door: _Door, lock: Sequence[Any], now: datetime
) -> _Held:
    """The list the door's lock decides on, or the best stand-in, and what it says about it.

    A lock reports the version it holds when it syncs, and applies the newest version the
    cloud answers with; so it holds the newest version published by its last sync.
    """
    device_id, reported, sent, last_sync_at, newest, newest_hash = lock
    newest_index = _index(session, door.id, newest, newest_hash) if newest else None
    if device_id is None:
        if newest_index is None:
            newest_index = _Index(build_access_list(session, master_key, door.id, now))
            described = "the list the cloud would send it now"
        else:
            described = f"the newest list (version {newest})"
        note = f"No lock is bound to this door, so nothing decides there yet: shown is {described}."
        return _Held(LockView(None, None, newest, newest, None, False, note), newest_index)
    applied = max(reported or 0, sent or 0)
    if applied == 0:
        note = (
            "The lock has applied no list yet: it knows no doorcode or keycard, and checks "
            "mobile keys from their own signature."
        )
        if newest:
            note += f" Its first sync brings version {newest}."
        view = LockView(device_id, 0, newest, 0, last_sync_at, not newest, note)
        empty = AccessList(door_id=door.id, version=0, base_version=None, issued_at=0)
        return _Held(view, _Index(empty), newest_index)
    if applied == newest and newest_index is not None:
        note = f"The lock holds the newest list (version {newest}), applied at its last sync."
        view = LockView(device_id, applied, newest, applied, last_sync_at, True, note)
        return _Held(view, newest_index)
    applied_index = _index(session, door.id, applied, None)
    if applied_index is None:
        if newest_index is None:
            newest_index = _Index(build_access_list(session, master_key, door.id, now))
        note = (
            f"The cloud no longer keeps version {applied}, which the lock holds: shown is the "
            f"newest list (version {newest}), which the lock has not applied yet."
        )
        view = LockView(device_id, applied, newest, newest, last_sync_at, False, note)
        return _Held(view, newest_index)
    note = (
        f"The lock has not applied the newest list yet: until its next sync it decides on "
        f"version {applied} (the newest is version {newest})."
    )
    view = LockView(device_id, applied, newest, applied, last_sync_at, False, note)
    return _Held(view, applied_index, newest_index)


# -- what the person holds -----------------------------------------------------------------------

_GRANTS_AT_DOOR = (
    select(
        Grant.id,
        Grant.person_id,
        Grant.key_id,
        Key.name,
        Grant.starts_at,
        Grant.ends_at,
        Grant.revoked_at,
        Grant.resident,
        Grant.created_by,
        Key.schedule_json,
    )
    .join(Key, Key.id == Grant.key_id)
    .join(key_doors, key_doors.c.key_id == Key.id)
    .where(key_doors.c.door_id == bindparam("door"))
    .order_by(Grant.starts_at, Grant.id)
)
_PHONES = (
    select(
        MobileKeyRegistration.id,
        MobileKeyRegistration.person_id,
        MobileKeyRegistration.phone_key_id,
        MobileKeyRegistration.registered_at,
        MobileKeyRegistration.revoked_at,
        Profile.suspended_at,
        Profile.phones_barred_before,
    )
    .outerjoin(
        Profile,
        and_(
            Profile.person_id == MobileKeyRegistration.person_id,
            Profile.portfolio_id == bindparam("portfolio"),
        ),
    )
    .where(MobileKeyRegistration.person_id.in_(bindparam("people", expanding=True)))
    .order_by(MobileKeyRegistration.registered_at, MobileKeyRegistration.id)
)


_GRANTER = aliased(Person)


def _no(column: Any) -> Any:
    return cast(null(), column.type)


_PORTFOLIO = (
    select(Property.portfolio_id).where(Property.id == bindparam("property")).scalar_subquery()
)


def _none(*columns: Any) -> list[Any]:
    """NULLs typed as `columns`, for the slots a branch of a union does not fill."""
    return [_no(column) for column in columns]


# The door row and everything one person holds that could reach that door, in one statement
# (one round trip): the door with its lock (as in _DOOR), their grants of keys that open it,
# their doorcodes there, their keycards here and their phones. No door row: no such door here.
_TEXTS = (Grant.key_id, Key.name, Grant.created_by, Person.display_name, Property.portfolio_id)
_TIMES = (Grant.starts_at, Grant.ends_at, Grant.revoked_at, Grant.revoked_at)
_NUMBERS = (Device.applied_access_list_version, _NEWEST.version, _NEWEST.version)
_EXPLAIN = union_all(
    select(
        literal_column("'grant'").label("kind"),
        Grant.id.label("id"),
        Grant.key_id.label("text_a"),
        Key.name.label("text_b"),
        Grant.created_by.label("text_c"),
        _GRANTER.display_name.label("text_d"),
        _no(Property.portfolio_id).label("text_e"),
        Grant.starts_at.label("time_a"),
        Grant.ends_at.label("time_b"),
        Grant.revoked_at.label("time_c"),
        _no(Grant.revoked_at).label("time_d"),
        Grant.resident.label("flag"),
        Key.schedule_json.label("schedule"),
        *(_no(column).label(f"number_{n}") for n, column in zip("abc", _NUMBERS, strict=True)),
        _no(AccessListVersion.content_hash).label("blob"),
    )
    .join(Key, Key.id == Grant.key_id)
    .join(key_doors, key_doors.c.key_id == Key.id)
    .outerjoin(_GRANTER, _GRANTER.id == Grant.created_by)
    .where(key_doors.c.door_id == bindparam("door"), Grant.person_id == bindparam("person")),
    _at_door(
        literal_column("'door'"),
        Device.id,
        Door.name,
        Door.kind,
        Property.time_zone,
        _PERSON_NAME,
        Property.portfolio_id,
        Device.last_sync_at,
        *_none(*_TIMES[1:]),
        false(),
        _no(Key.schedule_json),
        Device.applied_access_list_version,
        _SENT_VERSION,
        _NEWEST.version,
        _NEWEST.content_hash,
    ),
    select(
        literal_column("'doorcode'"),
        Doorcode.id,
        *_none(*_TEXTS),
        Doorcode.created_at,
        _no(Grant.ends_at),
        Doorcode.revoked_at,
        _no(Grant.revoked_at),
        false(),
        _no(Key.schedule_json),
        *_none(*_NUMBERS, AccessListVersion.content_hash),
    ).where(
        # Live codes only, by the index that keeps them unique; a revoked code that a lock
        # still holds is found in its list.
        Doorcode.person_id == bindparam("person"),
        Doorcode.door_id == bindparam("door"),
        Doorcode.revoked_at.is_(None),
    ),
    select(
        literal_column("'keycard'"),
        Keycard.id,
        Keycard.card_uid,
        Keycard.property_id,
        *_none(*_TEXTS[2:]),
        Keycard.created_at,
        *_none(*_TIMES[1:]),
        Keycard.active,
        _no(Key.schedule_json),
        *_none(*_NUMBERS, AccessListVersion.content_hash),
    )
    # Active cards by holder (a person has few); the property is checked on the rows.
    .where(Keycard.person_id == bindparam("person"), Keycard.active.is_(True)),
    select(
        literal_column("'phone'"),
        MobileKeyRegistration.id,
        MobileKeyRegistration.phone_key_id,
        *_none(*_TEXTS[1:]),
        MobileKeyRegistration.registered_at,
        Profile.suspended_at,
        MobileKeyRegistration.revoked_at,
        Profile.phones_barred_before,
        false(),
        _no(Key.schedule_json),
        *_none(*_NUMBERS, AccessListVersion.content_hash),
    )
    .outerjoin(
        Profile,
        and_(
            Profile.person_id == MobileKeyRegistration.person_id,
            Profile.portfolio_id == _PORTFOLIO,
        ),
    )
    .where(MobileKeyRegistration.person_id == bindparam("person")),
)
_NAMES = select(Person.id, Person.display_name).where(
    Person.id.in_(bindparam("people", expanding=True))
)


@dataclass(frozen=True, slots=True)
class _Grant:
    id: str
    person_id: str
    key_id: str
    key_name: str
    starts_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None
    resident: bool
    created_by: str | None
    schedule_json: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Phone:
    id: str
    person_id: str
    phone_key_id: str
    registered_at: datetime
    revoked_at: datetime | None
    suspended_at: datetime | None
    phones_barred_before: datetime | None


@dataclass(slots=True)
class _Holdings:
    grants: list[_Grant] = field(default_factory=list)
    doorcodes: list[tuple[str, datetime | None]] = field(default_factory=list)
    keycards: list[tuple[str, str]] = field(default_factory=list)
    phones: list[_Phone] = field(default_factory=list)
    granters: dict[str, str] = field(default_factory=dict)


# _EXPLAIN as text for each dialect: SQLAlchemy hashes a statement's whole cache key on every
# execution to find its compiled form, which for this statement costs more than the database
# takes to answer it; a textual statement of the same SQL and result types hashes in no time.
_PREBUILT: dict[str, TextualSelect] = {}


def _prebuilt(connection: Connection) -> TextualSelect:
    dialect = connection.dialect
    prebuilt = _PREBUILT.get(dialect.name)
    if prebuilt is None:
        same_kind: Callable[..., Dialect] = type(dialect)
        named = same_kind(paramstyle="named")
        named.bind_typing = BindTyping.NONE  # no "::type" after names, which text() would misread
        sql = str(_EXPLAIN.compile(dialect=named))
        columns = [column(f"c{n}", c.type) for n, c in enumerate(_EXPLAIN.selected_columns)]
        prebuilt = _PREBUILT[dialect.name] = text(sql).columns(*columns)
    return prebuilt


def _explained_door(
    session: Session, property_id: str, door_id: str, person_id: str
) -> tuple[_Door, str | None, Sequence[Any], _Holdings]:
    """The door, the person's name (None if not at the property), the door's lock and what
    the person holds there, from one statement; NotFound for a door not at the property."""
    params = {"door": door_id, "property": property_id, "person": person_id}
    connection = _read(session)
    rows = connection.execute(_prebuilt(connection), params).all()
    door_rows = [row for row in rows if row[0] == "door"]
    if not door_rows:
        raise NotFound()
    row = door_rows[0]
    _, device_id, name, kind, time_zone, person_name, portfolio_id, last_sync_at = row[:8]
    reported, sent, newest, newest_hash = row[-4:]
    door = _Door(door_id, property_id, name, DoorKind(kind), ZoneInfo(time_zone), portfolio_id)
    lock = (device_id, reported, sent, last_sync_at, newest, newest_hash)
    return door, person_name, lock, _holdings(rows, person_id, door)


def _holdings(rows: Iterable[Sequence[Any]], person_id: str, door: _Door) -> _Holdings:
    found = _Holdings()
    held = (row for row in rows if row[0] != "door")
    for row in sorted(held, key=lambda row: (row[7], row[1])):
        kind, row_id, text_a, text_b, text_c, text_d, _, time_a, time_b, time_c, time_d = row[:11]
        flag, sched = row[11], row[12]
        if kind == "grant":
            if text_c is not None and text_d is not None:
                found.granters[text_c] = text_d
            found.grants.append(
                _Grant(
                    row_id, person_id, text_a, text_b, time_a, time_b, time_c, flag, text_c, sched
                )
            )
        elif kind == "doorcode":
            found.doorcodes.append((row_id, time_c))
        elif kind == "keycard":
            if text_b == door.property_id:
                found.keycards.append((row_id, text_a))
        else:
            found.phones.append(_Phone(row_id, person_id, text_a, time_a, time_c, time_b, time_d))
    return found


def _names(session: Session, people: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({person for person in people if person})
    if not wanted:
        return {}
    return {row[0]: row[1] for row in _read(session).execute(_NAMES, {"people": wanted})}


# -- mobile keys ----------------------------------------------------------------------------------


def mobile_key_entry(
    grant: _Grant, phone: _Phone, door_id: str, at: datetime
) -> AccessEntry | None:
    """The entry of the newest mobile key the phone can hold for the grant at `at`, or None.

    The phone fetches keys as the credentials service issues them: one per live grant, at
    most DEFAULT_TTL ahead, none after the grant, the phone or the holder was revoked,
    barred or suspended (a key fetched before that stays in the phone until it expires).
    The entry is read back from the claims exactly as the lock reads a verified token.
    """
    barred = phone.phones_barred_before
    blocked = [
        moment
        for moment in (
            grant.revoked_at,
            phone.revoked_at,
            phone.suspended_at,
            barred if barred is not None and phone.registered_at <= barred else None,
        )
        if moment is not None
    ]
    issued = min([at, *blocked])
    if issued < phone.registered_at or grant.starts_at >= issued + DEFAULT_TTL:
        return None
    if grant.ends_at is not None and grant.ends_at <= issued:
        return None
    horizon = issued + DEFAULT_TTL
    not_before, expires = token_window(
        max(issued, grant.starts_at),
        horizon if grant.ends_at is None else min(horizon, grant.ends_at),
        issued,
    )
    if at >= expires:
        return None  # the lock takes no expired token at all
    try:
        schedule = schedule_of(grant.schedule_json, grant.starts_at, grant.ends_at)
    except InvalidSchedule:
        return None  # no key can be issued for a key whose schedule is malformed
    claims = MobileKeyClaims(
        token_id="",  # no token is made: only its claims are read back
        key_id=grant.id,
        # The token names every door of the key; this door is one of them.
        door_ids=(door_id,),
        phone_public=b"",
        schedule=token_schedule_claim(
            schedule,
            subject=subject_for(grant.person_id),
            credential_id=phone.phone_key_id,
            grant_id=grant.id,
            granted_by=grant.created_by,
            resident=grant.resident,
        ),
        not_before=not_before,
        expires=expires,
        issued_at=issued,
        issuer_key_id="",
    )
    return entry_from_claims(claims)


# -- the decision in words ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Words:
    """What the steps need to name things: the door, its zone, people and keys."""

    door: _Door
    at: datetime
    names: Mapping[str, str]
    keys: Mapping[str, str]
    # Moments already put in words: an answer names the same few instants many times.
    said: dict[datetime, str] = field(default_factory=dict, compare=False)

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return "no end"
        text = self.said.get(moment)
        if text is None:
            text = self.said[moment] = moment.astimezone(self.door.zone).strftime(LOCAL_FORMAT)
        return text

    def key(self, key_id: str | None) -> str:
        if key_id is None:
            return "no key"
        return f"“{self.keys.get(key_id, key_id)}”"

    def person(self, person_id: str | None) -> str:
        if person_id is None:
            return "someone no longer known"
        return self.names.get(person_id, person_id)


def _span(words: _Words, schedule: Schedule) -> str:
    start, end = schedule.starts_at, schedule.ends_at
    until = "with no end" if end is None else f"until {words.when(end)}"
    return until if start is None else f"from {words.when(start)} {until}"


@lru_cache(maxsize=1024)
def _windows(windows: tuple[WeeklyWindow, ...]) -> str:
    """A key's weekly windows in words (cached by the windows alone: keys share few)."""
    if not windows:
        return "at any time of the week"
    parts = []
    for window in windows:
        end = "24:00" if window.end == MIDNIGHT else window.end.strftime("%H:%M")
        parts.append(f"{WEEKDAYS[window.weekday]} {window.start.strftime('%H:%M')}-{end}")
    return "on " + ", ".join(parts)


def _steps(
    kind: CredentialType,
    entry: AccessEntry | None,
    key_id: str | None,
    reason: Reason,
    words: _Words,
    unknown: str,
) -> tuple[Step, ...]:
    """The checks in decide()'s order, marked by the reason decide() returned for them."""
    failed = FAILED_CHECK.get(reason)
    door, local = words.door, words.when(words.at)
    texts = {
        Check.KEYPAD: (
            "The keypad is not cooling down after wrong codes, as far as the cloud knows "
            "(only the lock knows its cool-down)."
        ),
        Check.LOCKDOWN: (
            f"{door.name} is locked down: the lock refuses every credential until it is lifted."
            if failed == Check.LOCKDOWN
            else f"{door.name} is not locked down."
        ),
        Check.CREDENTIAL: unknown,
    }
    if entry is not None:
        holder, key, what = words.person(entry.subject), words.key(key_id), TYPE_WORDS[kind]
        schedule = entry.schedule
        span = _span(words, schedule)
        texts[Check.CREDENTIAL] = _known(entry, words, key_id)
        texts[Check.SUSPENSION] = (
            f"{holder}'s building access is suspended in this portfolio."
            if failed == Check.SUSPENSION
            else f"{holder}'s building access is not suspended."
        )
        texts[Check.REVOCATION] = (
            f"The lock's list revokes this {what} or its grant of key {key}."
            if failed == Check.REVOCATION
            else f"Neither this {what} nor its grant of key {key} is revoked on the lock's list."
        )
        texts[Check.DOOR] = (
            f"Key {key} does not open {door.name}."
            if failed == Check.DOOR
            else f"Key {key} opens {door.name} ({door.kind.value} door)."
        )
        texts[Check.VALIDITY] = {
            Reason.NOT_YET_VALID: f"Not valid yet at {local}: it is valid {span}.",
            Reason.EXPIRED: f"No longer valid at {local}: it was valid {span}.",
        }.get(reason, f"Valid at {local}: it is valid {span}.")
        inside = "outside" if failed == Check.SCHEDULE else "inside"
        texts[Check.SCHEDULE] = (
            f"Key {key} opens {_windows(schedule.windows)} ({door.zone.key}); {local} is {inside}."
        )
    steps = []
    reached = True
    for check in CHECK_ORDER:
        if check == Check.KEYPAD and not kind.is_doorcode:
            continue
        if not reached:
            steps.append(Step(check, "not_checked", "Not checked: an earlier check refused."))
            continue
        outcome = "failed" if check == failed else "passed"
        reached = outcome == "passed"
        steps.append(Step(check, outcome, texts[check]))
    return tuple(steps)


def _known(entry: AccessEntry, words: _Words, key_id: str | None) -> str:
    resident = " with resident status" if entry.resident else ""
    by = f", granted by {words.person(entry.granted_by)}" if entry.granted_by else ""
    return (
        f"The lock knows this credential: it belongs to {words.person(entry.subject)} and "
        f"carries key {words.key(key_id)}{resident}{by}."
    )


def _decide(
    kind: CredentialType, entry: AccessEntry | None, state: LockState, door: _Door, at: datetime
) -> Reason:
    return decide(Presentation(kind, entry), state, door.id, at, door.zone).reason


def _after_sync(
    kind: CredentialType,
    credential_id: str,
    mobile: AccessEntry | None,
    held: _Held,
    door: _Door,
    at: datetime,
) -> Reason | None:
    """The decision on the newest list, when the lock holds an older one."""
    newest = held.newest
    if newest is None:
        return None
    entry = mobile if kind is CredentialType.MOBILE_KEY else newest.entry(credential_id, door.id)
    return _decide(kind, entry, newest.state, door, at)


def _credential_answer(
    kind: CredentialType,
    credential_id: str,
    label: str,
    entry: AccessEntry | None,
    key_id: str | None,
    unknown: str,
    held: _Held,
    words: _Words,
) -> CredentialAnswer:
    door, at = words.door, words.at
    reason = _decide(kind, entry, held.state, door, at)
    grant_id = entry.grant_id if entry is not None else None
    return CredentialAnswer(
        credential_type=kind,
        credential_id=credential_id,
        label=label,
        reason=reason,
        key_id=key_id,
        key_name=words.keys.get(key_id) if key_id else None,
        grant_id=grant_id,
        resident=entry.resident if entry is not None else False,
        steps=_steps(kind, entry, key_id, reason, words, unknown),
        after_sync=_after_sync(kind, credential_id, entry, held, door, at),
    )


def _not_listed(
    what: str,
    held: _Held,
    credential_id: str,
    live_grant: bool,
    words: _Words,
) -> str:
    """Why the lock's list holds no entry for one of the person's codes or cards."""
    version = held.lock.evaluated_version
    if held.newest is not None and credential_id in held.newest.by_id:
        return (
            f"The lock's list (version {version}) does not hold this {what} yet; the newest "
            "list does, and the lock gets it at its next sync."
        )
    if not live_grant:
        return (
            f"The lock's list does not hold this {what}: its holder has no live grant of a key "
            f"that opens {words.door.name}."
        )
    return f"The lock's list (version {version}) does not hold this {what}."


def explain(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    door_id: str,
    at: datetime,
    now: datetime,
) -> Explanation:
    """Whether the person's credentials open the door at `at`, one answer per credential.

    Decided by the rules core on the list the door's lock holds; 404 for a door or person
    that is not at this property. Not audited: it shows one person's rights at one door, which
    the same managers read unaudited in that person's grants and credentials (an access
    review, which lists everyone at a door, is).
    """
    door, person_name, lock, mine = _explained_door(session, property_id, door_id, person_id)
    if person_name is None:
        raise NotFound()
    held = _held(session, master_key, door, lock, now)
    grants, codes, cards, phones = mine.grants, mine.doorcodes, mine.keycards, mine.phones
    names = {person_id: person_name, **mine.granters}
    keys = {grant.key_id: grant.key_name for grant in grants}
    words = _Words(door, at, names, keys)
    live_grant = any(g.revoked_at is None and (g.ends_at is None or g.ends_at > at) for g in grants)
    answers: list[CredentialAnswer] = []
    for phone in phones:
        if phone.revoked_at is not None and phone.revoked_at + DEFAULT_TTL <= at:
            continue
        enrolled = phone.registered_at.astimezone(door.zone).strftime("%Y-%m-%d")
        for grant in grants:
            entry = mobile_key_entry(grant, phone, door_id, at)
            unknown = (
                f"The phone enrolled on {enrolled} holds no mobile key for key "
                f"{words.key(grant.key_id)} that is valid at {words.when(at)}: keys are issued "
                "for live grants only, at most "
                f"{DEFAULT_TTL.days} days ahead, and end with their grant."
            )
            label = f"mobile key on the phone enrolled {enrolled} (key “{grant.key_name}”)"
            answers.append(
                _credential_answer(
                    CredentialType.MOBILE_KEY,
                    phone.phone_key_id,
                    label,
                    entry,
                    grant.key_id,
                    unknown,
                    held,
                    words,
                )
            )
    # Live codes and active cards, then those the cloud revoked that the lock still holds.
    listed = held.index.of_subject(subject_for(person_id))
    kept = {code_id for code_id, _ in codes} | {card_id for card_id, _ in cards}
    gone = [spec for spec in listed if spec.credential_id not in kept]
    doorcodes = [(code_id, "personal doorcode") for code_id, _ in codes] + [
        (spec.credential_id, "personal doorcode (revoked since)")
        for spec in gone
        if spec.credential_type is CredentialType.PERSONAL_DOORCODE
    ]
    keycards = [(card_id, f"keycard …{card_uid[-4:]}") for card_id, card_uid in cards] + [
        (spec.credential_id, "keycard (deactivated since)")
        for spec in gone
        if spec.credential_type is CredentialType.KEYCARD
    ]
    for kind, what, held_here in (
        (CredentialType.PERSONAL_DOORCODE, "doorcode", doorcodes),
        (CredentialType.KEYCARD, "keycard", keycards),
    ):
        for credential_id, label in held_here:
            entry = held.entry(credential_id, door_id)
            unknown = _not_listed(what, held, credential_id, live_grant, words)
            key_id = entry.key_id if entry else None
            answers.append(
                _credential_answer(kind, credential_id, label, entry, key_id, unknown, held, words)
            )
    held_types = {answer.credential_type for answer in answers}
    missing = tuple(
        _missing(kind, bool(phones), bool(grants), door)
        for kind in PERSONAL_TYPES
        if kind not in held_types
    )
    return Explanation(
        property_id=property_id,
        person_id=person_id,
        person_name=person_name,
        door_id=door_id,
        door_name=door.name,
        door_kind=door.kind,
        at=at,
        local_time=words.when(at),
        time_zone=door.zone.key,
        lock=held.lock,
        credentials=tuple(answers),
        missing=missing,
        notes=_notes(answers),
    )


def _missing(kind: CredentialType, phones: bool, grants: bool, door: _Door) -> str:
    if kind is CredentialType.MOBILE_KEY:
        if not phones:
            return "No mobile key: no phone is enrolled."
        return f"No mobile key: no grant of a key that opens {door.name}."
    if kind is CredentialType.PERSONAL_DOORCODE:
        return f"No personal doorcode at {door.name}."
    return "No keycard at this property."


def _notes(answers: Sequence[CredentialAnswer]) -> tuple[str, ...]:
    notes = []
    if any(a.credential_type.is_doorcode for a in answers):
        notes.append(
            "A doorcode is also refused while the keypad cools down after wrong codes; only "
            "the lock knows when that happens."
        )
    if any(a.after_sync is not None and a.after_sync != a.reason for a in answers):
        notes.append("After the lock's next sync, some answers change (see after_sync).")
    return tuple(notes)


def access_review(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    door_id: str,
    at: datetime,
    now: datetime,
    viewer_id: str | None = None,
) -> AccessReview:
    """Every person whose credential opens the door at `at`, and through which key.

    The same decisions as `explain`, for every entry of the lock's list and every mobile key
    the holders of grants at the door can hold. Audited as a disclosure of people's rights.
    """
    door, _name, lock = _door(session, property_id, door_id, None)
    held = _held(session, master_key, door, lock, now)
    grants = [_Grant(*row) for row in _read(session).execute(_GRANTS_AT_DOOR, {"door": door_id})]
    holders = sorted({grant.person_id for grant in grants})
    phones_of: dict[str, list[_Phone]] = {}
    if holders:
        for row in _read(session).execute(
            _PHONES, {"portfolio": door.portfolio_id, "people": holders}
        ):
            phone = _Phone(*row)
            phones_of.setdefault(phone.person_id, []).append(phone)
    keys = {grant.key_id: grant.key_name for grant in grants}
    rows: list[tuple[str, CredentialType, str, str, str | None, str | None, bool]] = []
    for spec in held.access_list.upserts:
        if spec.credential_type not in PERSONAL_TYPES:
            continue
        entry = held.entry(spec.credential_id, door_id)
        if _decide(spec.credential_type, entry, held.state, door, at) is not Reason.GRANTED:
            continue
        label = TYPE_WORDS[spec.credential_type]
        rows.append(
            (
                spec.subject,
                spec.credential_type,
                spec.credential_id,
                label,
                spec.key_id,
                spec.grant_id,
                spec.resident,
            )
        )
    for grant in grants:
        for phone in phones_of.get(grant.person_id, ()):
            entry = mobile_key_entry(grant, phone, door_id, at)
            reason = _decide(CredentialType.MOBILE_KEY, entry, held.state, door, at)
            if reason is not Reason.GRANTED:
                continue
            rows.append(
                (
                    grant.person_id,
                    CredentialType.MOBILE_KEY,
                    phone.phone_key_id,
                    "mobile key",
                    grant.key_id,
                    grant.id,
                    grant.resident,
                )
            )
    names = _names(session, [row[0] for row in rows])
    people = sorted(
        (
            ReviewRow(
                person_id=subject,
                person_name=names[subject],
                credential_type=kind,
                credential_id=credential_id,
                label=label,
                key_id=key_id,
                key_name=keys.get(key_id) if key_id else None,
                grant_id=grant_id,
                resident=resident,
            )
            for subject, kind, credential_id, label, key_id, grant_id, resident in rows
            if subject in names
        ),
        key=lambda row: (
            row.person_name,
            row.person_id,
            row.credential_type.value,
            row.credential_id,
        ),
    )
    audit.write(
        session,
        now=now,
        actor_person_id=viewer_id,
        action="access.review",
        object_type="door",
        object_id=door_id,
        property_id=property_id,
        detail={"at": at.isoformat(), "people": len({row.person_id for row in people})},
    )
    return AccessReview(
        property_id=property_id,
        door_id=door_id,
        door_name=door.name,
        door_kind=door.kind,
        at=at,
        local_time=at.astimezone(door.zone).strftime(LOCAL_FORMAT),
        lock=held.lock,
        people=tuple(people),
        notes=_review_notes(held),
    )


def _review_notes(held: _Held) -> tuple[str, ...]:
    codes = sum(
        1
        for spec in held.access_list.upserts
        if spec.credential_type is CredentialType.ONE_TIME_CODE
    )
    notes = []
    if codes:
        notes.append(
            f"{codes} one-time code(s) on the lock's list also open the door; they name no person."
        )
    if held.access_list.single_day_slots:
        notes.append(
            "Single-day codes handed out for today also open the door; they name no person."
        )
    notes.append("Mechanical keys always turn the cylinder; the lock only records them.")
    return tuple(notes)


# -- names, for the command line -------------------------------------------------------------------


def find_by_names(
    *, session: Session, property_ref: str, door_ref: str, person_ref: str | None = None
) -> tuple[str, str, str | None]:
    """(property id, door id, person id) from ids or names: a property's id or name, a door's
    id or name there, a person's id or email; NotFound says which one is unknown."""
    property_id = property_by_reference(session, property_ref).id
    door_ids = session.scalars(
        select(Door.id).where(
            Door.property_id == property_id, or_(Door.id == door_ref, Door.name == door_ref)
        )
    ).all()
    if len(door_ids) != 1:
        raise NotFound(f"no single door {door_ref!r} at this property")
    if person_ref is None:
        return property_id, door_ids[0], None
    person_id = session.scalar(
        select(Person.id).where(
            or_(Person.id == person_ref, Person.email == person_ref.strip().lower())
        )
    )
    if person_id is None:
        raise NotFound(f"no person {person_ref!r}")
    return property_id, door_ids[0], person_id
