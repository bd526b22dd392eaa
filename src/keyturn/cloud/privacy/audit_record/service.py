"""Reading one property's audit record: filtered, newest first, a page at a time, with the
people, doors and keys it names resolved to the names this portfolio knows them by.

Every read writes an `audit.read` record after its page is chosen: the page never holds its
own read, and the next read shows it, so reads stay visible without a regress.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.history.errors import InvalidFilter
from keyturn.cloud.models import AuditRecord, Door, Grant, Key, Person, Profile, Property
from keyturn.cloud.paging import read_time_cursor, time_cursor
from keyturn.cloud.people.profiles import portfolio_of
from keyturn.cloud.privacy import audit

READ_ACTION = "audit.read"
MAX_PAGE = 100
ACTION_PATTERN = re.compile(r"[a-z_]+(\.[a-z_]+)*\Z")
OPERATOR = "operator (CLI)"
SYSTEM = "system"
# Detail members that could carry a secret are never shown, whoever wrote them.
_SECRET_WORDS = ("secret", "token", "password", "digest", "sealed", "code_hash")

# What each recorded action means, in words; families fall back to `_FAMILIES`.
ACTION_WORDS: Mapping[str, str] = {
    "audit.read": "read the audit record",
    "history.read": "read access history",
    "history.export": "exported access history",
    "photo.read": "viewed a photo",
    "grant.resident_status": "gave resident status",
    "consent.recorded": "recorded consent",
    "consent.withdrawn": "withdrew consent",
    "webhook.create": "subscribed a webhook",
    "webhook.delete": "removed a webhook subscription",
    "webhook.deliver": "sent an event to a webhook",
    "retention.override": "changed the retention",
    "dsar.received": "data-subject request received",
    "dsar.acknowledged": "data-subject request acknowledged",
    "dsar.document_read": "read a data-subject request's document",
    "dsar.lock_purged": "a lock purged a person's records",
    "dsar.anonymised": "anonymised a deleted person's kept history",
}
_FAMILIES: Mapping[str, str] = {
    "dsar": "data-subject request",
    "consent": "consent",
    "webhook": "webhook",
    "grant": "grant",
    "history": "access history",
    "retention": "retention",
}


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to list: by actor, by action (a code, or its family such as `dsar`),
    and in a time window (`since` inclusive, `until` exclusive)."""

    actor_person_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        """InvalidFilter for an action that is no code, or a window that ends before it starts."""
        if self.action is not None and not ACTION_PATTERN.match(self.action):
            raise InvalidFilter(
                "action", "`action` is an action code such as history.read, or a family: dsar"
            )
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidFilter("until", "`until` must be later than `since`")

    def described(self) -> dict[str, str]:
        """The filters for the read's own audit record."""
        shown = {
            "actor": self.actor_person_id,
            "action": self.action,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }
        return {name: value for name, value in shown.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a person as the portfolio knows them, the operator at the CLI, or the system."""

    kind: str  # person | operator | system
    person_id: str | None = None
    name: str = SYSTEM
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """What the act was about; `name` where it is a person, door, key, grant or property.

    The detail names the people, keys and doors it holds by id too (`person`, `key`, `doors`).
    """

    type: str
    id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: datetime
    actor: Actor
    action: str
    action_words: str
    subject: Subject
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: Sequence[AuditEntry]
    next_cursor: str | None


def read_audit_record(
    *,
    session: Session,
    reader_person_id: str | None,
    property_id: str,
    filters: AuditFilter,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> AuditPage:
    """One page of the property's audit record, newest first, its own read audited.

    `reader_person_id` None is the operator at the CLI. InvalidFilter for a bad filter,
    BadCursor for a cursor this service did not issue.
    """
    filters.check()
    limit = max(1, min(limit, MAX_PAGE))
    query = select(AuditRecord).where(AuditRecord.property_id == property_id)
    if filters.actor_person_id is not None:
        query = query.where(AuditRecord.actor_person_id == filters.actor_person_id)
    if filters.action is not None:
        query = query.where(
            or_(
                AuditRecord.action == filters.action,
                AuditRecord.action.startswith(filters.action + ".", autoescape=True),
            )
        )
    if filters.since is not None:
        query = query.where(AuditRecord.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditRecord.at < filters.until)
    if cursor is not None:
        after, after_id = read_time_cursor(cursor)
        query = query.where(
            or_(AuditRecord.at < after, and_(AuditRecord.at == after, AuditRecord.id < after_id))
        )
    rows = list(
        session.scalars(
            query.order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    entries = _entries(session, property_id, rows)
    audit.write(
        session,
        now=now,
        actor_person_id=reader_person_id,
        action=READ_ACTION,
        object_type="audit_record",
        property_id=property_id,
        detail={
            "filters": filters.described(),
            "count": len(entries),
            "page": cursor is not None,
        },
    )
    next_cursor = time_cursor(rows[-1].at, rows[-1].id) if more and rows else None
    return AuditPage(entries, next_cursor)


def action_words(action: str) -> str:
    """The action in words: its own, or its family's with the rest of the code spelled out."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    family, _, rest = action.partition(".")
    spelled = rest.replace("_", " ").replace(".", " ")
    if family in _FAMILIES:
        return f"{_FAMILIES[family]}: {spelled}" if spelled else _FAMILIES[family]
    return action.replace("_", " ").replace(".", ": ", 1)


def _entries(session: Session, property_id: str, rows: Sequence[AuditRecord]) -> list[AuditEntry]:
    """The rows with every person, door, key and grant they name read once, by id."""
    names = _Names(session, property_id)
    names.load(rows)
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            actor=names.actor(row),
            action=row.action,
            action_words=action_words(row.action),
            subject=names.subject(row),
            detail=names.detail(row),
        )
        for row in rows
    ]


def _shown(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The detail without any member whose name suggests a secret, or the operator marker."""
    return {
        name: value
        for name, value in (detail or {}).items()
        if not any(word in name.lower() for word in _SECRET_WORDS) and name not in audit.BY_OPERATOR
    }


class _Names:
    """Names of the people, doors, keys and grants a page of records names, read in bulk."""

    def __init__(self, session: Session, property_id: str) -> None:
        self.session = session
        self.property_id = property_id
        self.portfolio_id = portfolio_of(session, property_id)
        self.people: dict[str, tuple[str, str | None]] = {}
        self.doors: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.grants: dict[str, tuple[str, str]] = {}
        self.property_name = session.get_one(Property, property_id).name

    def load(self, rows: Sequence[AuditRecord]) -> None:
        def named(object_type: str, member: str) -> set[str]:
            """Ids of this type: the records' subjects and their detail's `member`."""
            ids = {row.object_id for row in rows if row.object_type == object_type}
            for row in rows:
                value = (row.detail or {}).get(member)
                ids.update(value if isinstance(value, list) else [value])
            return {found for found in ids if isinstance(found, str)}

        person_ids = {row.actor_person_id for row in rows if row.actor_person_id}
        person_ids |= named("person", "person_id")
        door_ids = named("door", "door_id") | named("door", "door_ids")
        key_ids, grant_ids = named("key", "key_id"), named("grant", "grant_id")
        if grant_ids:
            for grant_id, person_id, key_name in self.session.execute(
                select(Grant.id, Grant.person_id, Key.name)
                .join(Key, Key.id == Grant.key_id)
                .where(Grant.id.in_(sorted(grant_ids)), Key.property_id == self.property_id)
            ):
                self.grants[grant_id] = (person_id, key_name)
                person_ids.add(person_id)
        self._load_people(person_ids)
        if door_ids:
            self.doors = self._names_of(Door, door_ids)
        if key_ids:
            self.keys = self._names_of(Key, key_ids)

    def detail(self, row: AuditRecord) -> dict[str, Any]:
        """The shown detail with the name beside each person, door and key id it holds."""
        shown = _shown(row.detail)
        person_id, key_id = shown.get("person_id"), shown.get("key_id")
        door_id, door_ids = shown.get("door_id"), shown.get("door_ids")
        if isinstance(person_id, str) and person_id in self.people:
            shown["person"] = self.people[person_id][0]
        if isinstance(key_id, str) and key_id in self.keys:
            shown["key"] = self.keys[key_id]
        if isinstance(door_id, str) and door_id in self.doors:
            shown["door"] = self.doors[door_id]
        if isinstance(door_ids, list):
            shown["doors"] = [self.doors[door] for door in door_ids if door in self.doors]
        return shown

    def _names_of(self, model: type[Door] | type[Key], ids: set[str]) -> dict[str, str]:
        """The names of these doors or keys of this property (another's stay unnamed)."""
        rows = self.session.execute(
            select(model.id, model.name).where(
                model.id.in_(sorted(ids)), model.property_id == self.property_id
            )
        )
        return {object_id: name for object_id, name in rows}

    def _load_people(self, person_ids: Iterable[str]) -> None:
        wanted = sorted(set(person_ids))
        if not wanted:
            return
        rows = self.session.execute(
            select(Person.id, Person.display_name, Person.email, Profile.display_name)
            .outerjoin(
                Profile,
                and_(Profile.person_id == Person.id, Profile.portfolio_id == self.portfolio_id),
            )
            .where(Person.id.in_(wanted))
        )
        for person_id, first_name, email, known_as in rows:
            self.people[person_id] = (known_as or first_name, email)

    def actor(self, row: AuditRecord) -> Actor:
        if row.actor_person_id is None:
            if audit.by_operator(row.detail):
                return Actor(kind="operator", name=OPERATOR)
            return Actor(kind="system")
        name, email = self.people.get(row.actor_person_id, ("(erased)", None))
        return Actor(kind="person", person_id=row.actor_person_id, name=name, email=email)

    def subject(self, row: AuditRecord) -> Subject:
        object_id = row.object_id
        name: str | None = None
        if object_id is not None:
            if row.object_type == "person" and object_id in self.people:
                name = self.people[object_id][0]
            elif row.object_type == "door":
                name = self.doors.get(object_id)
            elif row.object_type == "key":
                name = self.keys.get(object_id)
            elif row.object_type == "grant" and object_id in self.grants:
                person_id, key_name = self.grants[object_id]
                holder = self.people.get(person_id, ("(erased)", None))[0]
                name = f"{key_name} for {holder}"
            elif row.object_type == "property" and object_id == self.property_id:
                name = self.property_name
        return Subject(type=row.object_type, id=object_id, name=name)
