"""Why can (or can't) this person open this door at that time, and who can: the lock's answer.

Both questions are answered by running the rules core's `decide()` on the very entries and
revocations the door's lock holds (the list version it last applied, kept by the cloud as
content), never by a second reading of the rules; the steps only put the facts decide() was
given into a manager's words, in the check order of its docstring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.access_lists import (
    build_access_list,
    grant_schedule,
    subject_for,
)
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
from keyturn.crypto.mobile_keys import MobileKeyClaims, token_window
from keyturn.protocol.access_lists import content_from_bytes
from keyturn.protocol.entries import entry_from_spec, lock_state_of, schedule_from_spec
from keyturn.protocol.messages import AccessList, CredentialSpec
from keyturn.protocol.mobile_claims import entry_from_claims, token_schedule_claim
from keyturn.rules.decide import AccessEntry, LockState, Presentation, decide
from keyturn.rules.schedule import MIDNIGHT, Schedule
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
_DOOR = (
    select(
        Door.name,
        Door.kind,
        Property.time_zone,
        Property.portfolio_id,
        Device.id,
        Device.applied_access_list_version,
        _SENT_VERSION,
        Device.last_sync_at,
        _NEWEST_VERSION,
    )
    .join(Property, Property.id == Door.property_id)
    .outerjoin(Device, and_(Device.door_id == Door.id, Device.retired_at.is_(None)))
    .where(Door.id == bindparam("door"), Door.property_id == bindparam("property"))
)
_CONTENT = select(AccessListVersion.content).where(
    AccessListVersion.door_id == bindparam("door"),
    AccessListVersion.version == bindparam("version"),
)


@dataclass(frozen=True, slots=True)
class _Door:
    id: str
    property_id: str
    name: str
    kind: DoorKind
    zone: ZoneInfo
    portfolio_id: str


@dataclass(slots=True)
class _Held:
    """The list the answer is decided on, indexed, and the newest one when they differ."""

    lock: LockView
    access_list: AccessList
    state: LockState
    by_id: dict[str, CredentialSpec]
    newest: _Held | None = None
    entries: dict[str, AccessEntry] = field(default_factory=dict)

    def entry(self, credential_id: str, door_id: str) -> AccessEntry | None:
        spec = self.by_id.get(credential_id)
        if spec is None:
            return None
        entry = self.entries.get(credential_id)
        if entry is None:
            entry = entry_from_spec(spec, door_id, schedule_from_spec(spec.schedule))
            self.entries[credential_id] = entry
        return entry


def _door(session: Session, property_id: str, door_id: str) -> tuple[_Door, Any]:
    row = session.execute(_DOOR, {"door": door_id, "property": property_id}).first()
    if row is None:
        raise NotFound()
    name, kind, time_zone, portfolio_id, *lock = row
    return _Door(
        door_id, property_id, name, DoorKind(kind), ZoneInfo(time_zone), portfolio_id
    ), lock


def _content(session: Session, door_id: str, version: int) -> AccessList | None:
    data = session.execute(_CONTENT, {"door": door_id, "version": version}).scalar()
    if data is None:
        return None
    return content_from_bytes(data)


def _held(
    session: Session, master_key: bytes, door: _Door, lock: Sequence[Any], now: datetime
) -> _Held:
    """The list the door's lock decides on, or the best stand-in, and what it says about it.

    A lock reports the version it holds when it syncs, and applies the newest version the
    cloud answers with; so it holds the newest version published by its last sync.
    """
    device_id, reported, sent, last_sync_at, newest = lock
    applied = max(reported or 0, sent or 0)
    newest_list = _content(session, door.id, newest) if newest is not None else None
    if device_id is None:
        if newest_list is None:
            newest_list = build_access_list(session, master_key, door.id, now)
            described = "the list the cloud would send it now"
        else:
            described = f"the newest list (version {newest})"
        note = f"No lock is bound to this door, so nothing decides there yet: shown is {described}."
        view = LockView(None, None, newest, newest, None, False, note)
        return _indexed(view, newest_list)
    if applied == 0:
        note = (
            "The lock has applied no list yet: it knows no doorcode or keycard, and checks "
            "mobile keys from their own signature."
        )
        if newest:
            note += f" Its first sync brings version {newest}."
        view = LockView(device_id, 0, newest, 0, last_sync_at, not newest, note)
        empty = AccessList(door_id=door.id, version=0, base_version=None, issued_at=0)
        held = _indexed(view, empty)
        held.newest = _indexed(view, newest_list) if newest_list is not None else None
        return held
    if applied == newest and newest_list is not None:
        note = f"The lock holds the newest list (version {newest}), applied at its last sync."
        return _indexed(
            LockView(device_id, applied, newest, applied, last_sync_at, True, note), newest_list
        )
    applied_list = _content(session, door.id, applied)
    if applied_list is None:
        if newest_list is None:
            newest_list = build_access_list(session, master_key, door.id, now)
        note = (
            f"The cloud no longer keeps version {applied}, which the lock holds: shown is the "
            f"newest list (version {newest}), which the lock has not applied yet."
        )
        view = LockView(device_id, applied, newest, newest, last_sync_at, False, note)
        return _indexed(view, newest_list)
    note = (
        f"The lock has not applied the newest list yet: until its next sync it decides on "
        f"version {applied} (the newest is version {newest})."
    )
    view = LockView(device_id, applied, newest, applied, last_sync_at, False, note)
    held = _indexed(view, applied_list)
    held.newest = _indexed(view, newest_list) if newest_list is not None else None
    return held


def _indexed(view: LockView, access_list: AccessList) -> _Held:
    return _Held(
        lock=view,
        access_list=access_list,
        state=lock_state_of(access_list),
        by_id={spec.credential_id: spec for spec in access_list.upserts},
    )


# -- what the person holds -----------------------------------------------------------------------

_PERSON = select(Person.display_name).where(
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
_GRANT_COLUMNS = (
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
_GRANTS_AT_DOOR = (
    select(*_GRANT_COLUMNS)
    .join(Key, Key.id == Grant.key_id)
    .join(key_doors, key_doors.c.key_id == Key.id)
    .where(key_doors.c.door_id == bindparam("door"))
    .order_by(Grant.starts_at, Grant.id)
)
_PERSON_GRANTS = _GRANTS_AT_DOOR.where(Grant.person_id == bindparam("person"))
_PERSON_DOORCODES = (
    select(Doorcode.id, Doorcode.revoked_at)
    .where(Doorcode.person_id == bindparam("person"), Doorcode.door_id == bindparam("door"))
    .order_by(Doorcode.created_at, Doorcode.id)
)
_PERSON_KEYCARDS = (
    select(Keycard.id, Keycard.card_uid, Keycard.active)
    .where(Keycard.person_id == bindparam("person"), Keycard.property_id == bindparam("property"))
    .order_by(Keycard.created_at, Keycard.id)
)
_PHONE_COLUMNS = (
    MobileKeyRegistration.id,
    MobileKeyRegistration.person_id,
    MobileKeyRegistration.phone_key_id,
    MobileKeyRegistration.registered_at,
    MobileKeyRegistration.revoked_at,
    Profile.suspended_at,
    Profile.phones_barred_before,
)
_PHONES = (
    select(*_PHONE_COLUMNS)
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


def _names(session: Session, people: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({person for person in people if person})
    if not wanted:
        return {}
    return {row[0]: row[1] for row in session.execute(_NAMES, {"people": wanted})}


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
    blocked = [
        moment
        for moment in (
            grant.revoked_at,
            phone.revoked_at,
            phone.suspended_at,
            phone.phones_barred_before
            if phone.phones_barred_before is not None
            and phone.registered_at <= phone.phones_barred_before
            else None,
        )
        if moment is not None
    ]
    issued = min([at, *blocked])
    if issued < phone.registered_at or grant.starts_at >= issued + DEFAULT_TTL:
        return None
    if grant.ends_at is not None and grant.ends_at <= issued:
        return None
    not_before, expires = token_window(
        max(issued, grant.starts_at),
        issued + DEFAULT_TTL if grant.ends_at is None else min(issued + DEFAULT_TTL, grant.ends_at),
        issued,
    )
    if at >= expires:
        return None  # the lock takes no expired token at all
    key = Key(id=grant.key_id, schedule_json=grant.schedule_json or {})
    claims = MobileKeyClaims(
        token_id="",
        key_id=grant.id,
        # The token names every door of the key; this door is one of them.
        door_ids=(door_id,),
        phone_public=b"",
        schedule=token_schedule_claim(
            grant_schedule(key, _as_grant(grant)),
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


def _as_grant(grant: _Grant) -> Grant:
    return Grant(starts_at=grant.starts_at, ends_at=grant.ends_at)


# -- the decision in words ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Words:
    """What the steps need to name things: the door, its zone, people and keys."""

    door: _Door
    at: datetime
    names: Mapping[str, str]
    keys: Mapping[str, str]
    version: int | None

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return "no end"
        return moment.astimezone(self.door.zone).strftime(LOCAL_FORMAT)

    def key(self, key_id: str | None) -> str:
        if key_id is None:
            return "no key"
        return f"“{self.keys.get(key_id, key_id)}”"

    def person(self, person_id: str | None) -> str:
        if person_id is None:
            return "someone no longer known"
        return self.names.get(person_id, person_id)


def _windows(schedule: Schedule) -> str:
    if not schedule.windows:
        return "at any time of the week"
    parts = []
    for window in schedule.windows:
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
        span = f"from {words.when(schedule.starts_at)} to {words.when(schedule.ends_at)}"
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
            f"Key {key} opens {_windows(schedule)} ({door.zone.key}); {local} is {inside}."
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
    kind: CredentialType, entry: AccessEntry | None, held: _Held, door: _Door, at: datetime
) -> Reason:
    return decide(Presentation(kind, entry), held.state, door.id, at, door.zone).reason


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
    return _decide(kind, entry, newest, door, at)


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
    reason = _decide(kind, entry, held, door, at)
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
    revoked_at: datetime | None,
    held: _Held,
    credential_id: str,
    live_grant: bool,
    words: _Words,
) -> str:
    """Why the lock's list holds no entry for one of the person's codes or cards."""
    version = held.lock.evaluated_version
    if revoked_at is not None:
        return (
            f"This {what} was revoked on {words.when(revoked_at)}; the lock's list "
            f"(version {version}) does not hold it."
        )
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
    viewer_id: str | None = None,
) -> Explanation:
    """Whether the person's credentials open the door at `at`, one answer per credential.

    Decided by the rules core on the list the door's lock holds; 404 for a door or person
    that is not at this property. The question and who asked it are audited, not the answer.
    """
    door, lock = _door(session, property_id, door_id)
    person_name = session.execute(_PERSON, {"person": person_id, "property": property_id}).scalar()
    if person_name is None:
        raise NotFound()
    held = _held(session, master_key, door, lock, now)
    mine = {"person": person_id, "door": door_id, "property": property_id}
    grants = [_Grant(*row) for row in session.execute(_PERSON_GRANTS, mine)]
    codes = session.execute(_PERSON_DOORCODES, mine).all()
    cards = session.execute(_PERSON_KEYCARDS, mine).all()
    phones = [
        _Phone(*row)
        for row in session.execute(_PHONES, {"portfolio": door.portfolio_id, "people": [person_id]})
    ]
    by = [grant.created_by for grant in grants]
    by += [
        spec.granted_by
        for spec in held.access_list.upserts
        if spec.subject == subject_for(person_id)
    ]
    names = {person_id: person_name, **_names(session, by)}
    words = _Words(
        door, at, names, {g.key_id: g.key_name for g in grants}, held.lock.evaluated_version
    )
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
    for code_id, revoked_at in codes:
        if revoked_at is not None and code_id not in held.by_id:
            continue
        entry = held.entry(code_id, door_id)
        unknown = _not_listed("doorcode", revoked_at, held, code_id, live_grant, words)
        answers.append(
            _credential_answer(
                CredentialType.PERSONAL_DOORCODE,
                code_id,
                "personal doorcode",
                entry,
                entry.key_id if entry else None,
                unknown,
                held,
                words,
            )
        )
    for card_id, card_uid, active in cards:
        if not active and card_id not in held.by_id:
            continue
        entry = held.entry(card_id, door_id)
        unknown = _not_listed("keycard", None if active else at, held, card_id, live_grant, words)
        answers.append(
            _credential_answer(
                CredentialType.KEYCARD,
                card_id,
                f"keycard …{card_uid[-4:]}",
                entry,
                entry.key_id if entry else None,
                unknown,
                held,
                words,
            )
        )
    held_types = {answer.credential_type for answer in answers}
    missing = tuple(
        _missing(kind, bool(phones), bool(grants), door)
        for kind in PERSONAL_TYPES
        if kind not in held_types
    )
    audit.write(
        session,
        now=now,
        actor_person_id=viewer_id,
        action="access.explain",
        object_type="door",
        object_id=door_id,
        property_id=property_id,
        detail={"person_id": person_id, "at": at.isoformat()},
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
    door, lock = _door(session, property_id, door_id)
    held = _held(session, master_key, door, lock, now)
    grants = [_Grant(*row) for row in session.execute(_GRANTS_AT_DOOR, {"door": door_id})]
    holders = sorted({grant.person_id for grant in grants})
    phones_of: dict[str, list[_Phone]] = {}
    if holders:
        for row in session.execute(_PHONES, {"portfolio": door.portfolio_id, "people": holders}):
            phone = _Phone(*row)
            phones_of.setdefault(phone.person_id, []).append(phone)
    keys = {grant.key_id: grant.key_name for grant in grants}
    rows: list[tuple[str, CredentialType, str, str, str | None, str | None, bool]] = []
    for spec in held.access_list.upserts:
        if spec.credential_type not in PERSONAL_TYPES:
            continue
        entry = held.entry(spec.credential_id, door_id)
        if _decide(spec.credential_type, entry, held, door, at) is not Reason.GRANTED:
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
            if _decide(CredentialType.MOBILE_KEY, entry, held, door, at) is not Reason.GRANTED:
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
