"""Access revisions: counters in the database that move whenever a row a door's access list
is built from changes, so a published list can be reused until one of them moves.

Every flush of a cloud session (the listeners below, installed by keyturn.cloud.sessions)
that adds, changes or deletes such a row bumps, in the same transaction, the counters of the
scopes it can affect: the door ("door:<id>"), the property
("property:<id>"), or everything ("all"); a door's revision is the sum of its three counters.
ORM-enabled UPDATE, DELETE and INSERT statements run through `Session.execute` bump "all".
Writes that bypass the Session (Core statements on a Connection, raw SQL text) are NOT seen:
every writer of the tables below must go through a Session.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    ScalarSelect,
    Table,
    bindparam,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from keyturn.cloud.models import (
    AccessRevision,
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

EVERYTHING = "all"
_PENDING = "keyturn.access_revision_scopes"

# Whose rows feed build_access_list; a change to any of them may change some door's list.
TRACKED: tuple[type[Any], ...] = (
    Property,
    Door,
    Key,
    Grant,
    Doorcode,
    Keycard,
    OneTimeCode,
    SingleDayCode,
    MobileKeyRegistration,
    Profile,
    Person,
)
_TRACKED_TABLES = frozenset({*(model.__table__ for model in TRACKED), key_doors})
# A changed row of these matters only through the named columns (new and deleted rows always
# do): a person is known to a lock by id alone, and a profile by its suspension and phone bar.
_COLUMNS_THAT_MATTER: dict[type[Any], tuple[str, ...]] = {
    Profile: ("person_id", "suspended_at", "phones_barred_before"),
    Person: (),
}


def door_scope(door_id: str) -> str:
    return f"door:{door_id}"


def property_scope(property_id: str) -> str:
    return f"property:{property_id}"


def door_scopes(door_id: str, property_id: str) -> list[str]:
    """The scopes whose counters make up the door's revision."""
    return [door_scope(door_id), property_scope(property_id), EVERYTHING]


# The sum of the counters of the scopes bound as "scopes" (see door_scopes); a column, so
# that it can be read in the same statement as something else.
REVISION_OF_SCOPES: ScalarSelect[Any] = (
    select(func.coalesce(func.sum(AccessRevision.revision), 0))
    .where(AccessRevision.scope.in_(bindparam("scopes", expanding=True)))
    .scalar_subquery()
)
_REVISION = select(REVISION_OF_SCOPES)


def door_revision(session: Session, door_id: str, property_id: str) -> int:
    """The door's revision: it differs from any earlier reading once its inputs changed.

    Read it before reading what the list is built from, so that a change committed in
    between shows as a newer revision rather than hiding behind an older one.
    """
    return int(session.scalar(_REVISION, {"scopes": door_scopes(door_id, property_id)}) or 0)


def bump(connection: Connection, scopes: Iterable[str]) -> None:
    """Move the counters of `scopes` by one, creating them as needed, in sorted order (so
    concurrent writers take their row locks in the same order)."""
    rows = [{"scope": scope} for scope in sorted(set(scopes))]
    if rows:
        connection.execute(_bump_statement(connection.dialect.name), rows)


@functools.cache
def _bump_statement(dialect: str) -> Any:
    table = AccessRevision.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(scope=bindparam("scope"), revision=1)
    return statement.on_conflict_do_update(
        index_elements=[table.c.scope], set_={"revision": table.c.revision + 1}
    )


def _values(obj: Any, attribute: str) -> set[str]:
    """The attribute's value now and any value it had before this flush (loaded if needed)."""
    history = inspect(obj).attrs[attribute].load_history()
    return {value for value in (*history.unchanged, *history.added, *history.deleted) if value}


def scopes_of(connection: Connection, objects: Iterable[Any]) -> set[str]:
    """The scopes whose lists may change when these rows are written.

    Rows must still exist (deleted ones are resolved before the flush deletes them).
    """
    scopes: set[str] = set()
    keys: set[str] = set()
    people: set[str] = set()
    for obj in objects:
        if isinstance(obj, Property):
            scopes.add(property_scope(obj.id))
        elif isinstance(obj, Door):
            scopes.add(door_scope(obj.id))
        elif isinstance(obj, (Key, Keycard)):
            scopes.update(property_scope(value) for value in _values(obj, "property_id"))
        elif isinstance(obj, Grant):
            keys |= _values(obj, "key_id")
        elif isinstance(obj, (Doorcode, OneTimeCode, SingleDayCode)):
            scopes.update(door_scope(value) for value in _values(obj, "door_id"))
        elif isinstance(obj, (MobileKeyRegistration, Profile)):
            people |= _values(obj, "person_id")
        elif isinstance(obj, Person) and obj.id:
            people.add(obj.id)
    if keys:
        doors = connection.execute(
            select(key_doors.c.door_id).where(key_doors.c.key_id.in_(sorted(keys)))
        )
        scopes.update(door_scope(door_id) for (door_id,) in doors)
    if people:
        # A person's phone revocations and suspension reach every door they hold a grant at.
        properties = connection.execute(
            select(Key.property_id)
            .join(Grant, Grant.key_id == Key.id)
            .where(Grant.person_id.in_(sorted(people)))
            .distinct()
        )
        scopes.update(property_scope(property_id) for (property_id,) in properties)
    return scopes


def _tracked(objects: Iterable[Any]) -> list[Any]:
    return [obj for obj in objects if isinstance(obj, TRACKED)]


def _changed(session: Session, obj: Any) -> bool:
    if not session.is_modified(obj):
        return False
    only = _COLUMNS_THAT_MATTER.get(type(obj))
    if only is None:
        return True
    attributes = inspect(obj).attrs
    return any(attributes[name].history.has_changes() for name in only)


def before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    """Resolve deleted rows now, while they and what they point at still exist."""
    deleted = _tracked(session.deleted)
    if deleted:
        pending = session.info.setdefault(_PENDING, set())
        pending |= scopes_of(session.connection(), deleted)


def after_flush(session: Session, _context: UOWTransaction) -> None:
    """Bump every scope the flush touched; new rows have their foreign keys by now."""
    scopes: set[str] = session.info.pop(_PENDING, set())
    changed = _tracked(session.new) + [
        obj for obj in _tracked(session.dirty) if _changed(session, obj)
    ]
    if changed:
        scopes |= scopes_of(session.connection(), changed)
    bump(session.connection(), scopes)


def bulk_statement(state: ORMExecuteState) -> None:
    """A bulk INSERT, UPDATE or DELETE through the Session names no rows: bump everything."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if getattr(state.statement, "table", None) in _TRACKED_TABLES:
        bump(state.session.connection(), [EVERYTHING])
