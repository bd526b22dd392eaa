"""What the door's lock holds (the list version it decides on) and what one person holds there.

Read from the database in as few statements as possible; decoded lists are kept, as a
published version never changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Text,
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
from sqlalchemy.sql.selectable import Select, TextualSelect

from keyturn.cloud.access.access_lists import build_access_list, schedule_of_text, subject_for
from keyturn.cloud.access.credentials.mobile_keys import DEFAULT_TTL
from keyturn.cloud.access.explain.answers import LockView
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
from keyturn.cloud.people.profiles import known_name
from keyturn.crypto.mobile_keys import MobileKeyClaims, token_window
from keyturn.protocol.access_lists import content_from_bytes
from keyturn.protocol.entries import entry_from_spec, lock_state_of, schedule_from_spec
from keyturn.protocol.messages import AccessList, CredentialSpec
from keyturn.protocol.mobile_claims import entry_from_claims, token_schedule_claim
from keyturn.rules.decide import AccessEntry, LockState
from keyturn.rules.errors import InvalidSchedule
from keyturn.rules.types import DoorKind

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
_PORTFOLIO = (
    select(Property.portfolio_id)
    .where(Property.id == bindparam("property"))
    .correlate(None)
    .scalar_subquery()
)
# The person asked about, if they have a role at the property or a grant of one of its keys,
# by the name the property's portfolio knows them by.
_PERSON_NAME = (
    select(known_name(Person.id, _PORTFOLIO))
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
_decoded: OrderedDict[tuple[str, int, bytes], ListIndex] = OrderedDict()
_decoded_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class DoorFacts:
    id: str
    property_id: str
    name: str
    kind: DoorKind
    zone: ZoneInfo
    portfolio_id: str


class ListIndex:
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
class HeldList:
    """The list the answer is decided on, and the newest one when the lock holds another."""

    lock: LockView
    index: ListIndex
    newest: ListIndex | None = None

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


def connection_of(session: Session) -> Connection:
    """The session's connection, for these plain reads: Core rows, without the ORM's pass
    over every statement (they change nothing and load no entity)."""
    return session.connection()


def door_facts(
    session: Session, property_id: str, door_id: str, person_id: str | None
) -> tuple[DoorFacts, str | None, Sequence[Any]]:
    row = (
        connection_of(session)
        .execute(_DOOR, {"door": door_id, "property": property_id, "person": person_id})
        .first()
    )
    if row is None:
        raise NotFound()
    name, kind, time_zone, portfolio_id, person_name, *lock = row
    door = DoorFacts(door_id, property_id, name, DoorKind(kind), ZoneInfo(time_zone), portfolio_id)
    return door, person_name, lock


def _index(
    session: Session, door_id: str, version: int, content_hash: bytes | None
) -> ListIndex | None:
    """The decoded list of one version, from the cache or the database; None if not kept."""
    if content_hash is None:
        content_hash = (
            connection_of(session).execute(_HASH, {"door": door_id, "version": version}).scalar()
        )
        if content_hash is None:
            return None
    cache_key = (door_id, version, content_hash)
    with _decoded_lock:
        found = _decoded.get(cache_key)
        if found is not None:
            _decoded.move_to_end(cache_key)
            return found
    row = connection_of(session).execute(_VERSION, {"door": door_id, "version": version}).first()
    if row is None or row[1] is None:
        return None
    index = ListIndex(content_from_bytes(row[1]))
    with _decoded_lock:
        _decoded[cache_key] = index
        while len(_decoded) > _DECODED_KEPT:
            _decoded.popitem(last=False)
    return index


def held_list(
    session: Session, master_key: bytes, door: DoorFacts, lock: Sequence[Any], now: datetime
) -> HeldList:
    """The list the door's lock decides on, or the best stand-in, and what it says about it.

    A lock reports the version it holds when it syncs, and applies the newest version the
    cloud answers with; so it holds the newest version published by its last sync.
    """
    device_id, reported, sent, last_sync_at, newest, newest_hash = lock
    newest_index = _index(session, door.id, newest, newest_hash) if newest else None
    if device_id is None:
        if newest_index is None:
            newest_index = ListIndex(build_access_list(session, master_key, door.id, now))
            described = "the list the cloud would send it now"
        else:
            described = f"the newest list (version {newest})"
        note = f"No lock is bound to this door, so nothing decides there yet: shown is {described}."
        return HeldList(LockView(None, None, newest, newest, None, False, note), newest_index)
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
        return HeldList(view, ListIndex(empty), newest_index)
    if applied == newest and newest_index is not None:
        note = f"The lock holds the newest list (version {newest}), applied at its last sync."
        view = LockView(device_id, applied, newest, applied, last_sync_at, True, note)
        return HeldList(view, newest_index)
    applied_index = _index(session, door.id, applied, None)
    if applied_index is None:
        if newest_index is None:
            newest_index = ListIndex(build_access_list(session, master_key, door.id, now))
        note = (
            f"The cloud no longer keeps version {applied}, which the lock holds: shown is the "
            f"newest list (version {newest}), which the lock has not applied yet."
        )
        view = LockView(device_id, applied, newest, newest, last_sync_at, False, note)
        return HeldList(view, newest_index)
    note = (
        f"The lock has not applied the newest list yet: until its next sync it decides on "
        f"version {applied} (the newest is version {newest})."
    )
    view = LockView(device_id, applied, newest, applied, last_sync_at, False, note)
    return HeldList(view, applied_index, newest_index)


# -- what the person holds -----------------------------------------------------------------------

# A key's schedule as the JSON text the database keeps: parsed once per distinct text by
# `schedule_of_text`, rather than decoded on every read and re-encoded for a cache key.
SCHEDULE_TEXT = cast(Key.schedule_json, Text)
# Rows as GrantFacts takes them, whole (SQLAlchemy types the first nine columns only).
GRANTS_AT_DOOR: Select[*tuple[Any, ...]] = (
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
        SCHEDULE_TEXT,
    )
    .join(Key, Key.id == Grant.key_id)
    .join(key_doors, key_doors.c.key_id == Key.id)
    .where(key_doors.c.door_id == bindparam("door"))
    .order_by(Grant.starts_at, Grant.id)
)
PHONES = (
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
        SCHEDULE_TEXT.label("schedule"),
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
        _no(SCHEDULE_TEXT),
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
        _no(SCHEDULE_TEXT),
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
        _no(SCHEDULE_TEXT),
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
        _no(SCHEDULE_TEXT),
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
_NAMES = select(Person.id, known_name(Person.id, _PORTFOLIO)).where(
    Person.id.in_(bindparam("people", expanding=True))
)


@dataclass(frozen=True, slots=True)
class GrantFacts:
    id: str
    person_id: str
    key_id: str
    key_name: str
    starts_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None
    resident: bool
    created_by: str | None
    schedule_text: str | None


@dataclass(frozen=True, slots=True)
class PhoneFacts:
    id: str
    person_id: str
    phone_key_id: str
    registered_at: datetime
    revoked_at: datetime | None
    suspended_at: datetime | None
    phones_barred_before: datetime | None


@dataclass(slots=True)
class Holdings:
    grants: list[GrantFacts] = field(default_factory=list)
    doorcodes: list[tuple[str, datetime | None]] = field(default_factory=list)
    keycards: list[tuple[str, str]] = field(default_factory=list)
    phones: list[PhoneFacts] = field(default_factory=list)
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


def door_and_holdings(
    session: Session, property_id: str, door_id: str, person_id: str
) -> tuple[DoorFacts, str | None, Sequence[Any], Holdings]:
    """The door, the person's name (None if not at the property), the door's lock and what
    the person holds there, from one statement; NotFound for a door not at the property."""
    params = {"door": door_id, "property": property_id, "person": person_id}
    connection = connection_of(session)
    rows = connection.execute(_prebuilt(connection), params).all()
    door_rows = [row for row in rows if row[0] == "door"]
    if not door_rows:
        raise NotFound()
    row = door_rows[0]
    _, device_id, name, kind, time_zone, person_name, portfolio_id, last_sync_at = row[:8]
    reported, sent, newest, newest_hash = row[-4:]
    door = DoorFacts(door_id, property_id, name, DoorKind(kind), ZoneInfo(time_zone), portfolio_id)
    lock = (device_id, reported, sent, last_sync_at, newest, newest_hash)
    return door, person_name, lock, _holdings(rows, person_id, door)


def _holdings(rows: Iterable[Sequence[Any]], person_id: str, door: DoorFacts) -> Holdings:
    found = Holdings()
    held = (row for row in rows if row[0] != "door")
    for row in sorted(held, key=lambda row: (row[7], row[1])):
        kind, row_id, text_a, text_b, text_c, text_d, _, time_a, time_b, time_c, time_d = row[:11]
        flag, sched = row[11], row[12]
        if kind == "grant":
            if text_c is not None and text_d is not None:
                found.granters[text_c] = text_d
            found.grants.append(
                GrantFacts(
                    row_id, person_id, text_a, text_b, time_a, time_b, time_c, flag, text_c, sched
                )
            )
        elif kind == "doorcode":
            found.doorcodes.append((row_id, time_c))
        elif kind == "keycard":
            if text_b == door.property_id:
                found.keycards.append((row_id, text_a))
        else:
            found.phones.append(
                PhoneFacts(row_id, person_id, text_a, time_a, time_c, time_b, time_d)
            )
    return found


def names_of(session: Session, property_id: str, people: Iterable[str | None]) -> dict[str, str]:
    """The people's names as the property's portfolio knows them."""
    wanted = sorted({person for person in people if person})
    if not wanted:
        return {}
    params = {"people": wanted, "property": property_id}
    return {row[0]: row[1] for row in connection_of(session).execute(_NAMES, params)}


# -- mobile keys ----------------------------------------------------------------------------------


def mobile_key_entry(
    grant: GrantFacts, phone: PhoneFacts, door_id: str, at: datetime
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
        schedule = schedule_of_text(grant.schedule_text, grant.starts_at, grant.ends_at)
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
