"""The visibility rule (V1-V5) as a SQL filter, compiled from the rules core's one definition.

Every query that returns events to a person goes through `visible_events`; no endpoint
filters events on its own. `viewer_for` finds the facts about the person that the rule needs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, literal, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.models import Grant, Key, key_doors
from keyturn.cloud.history.models import Event
from keyturn.cloud.people.models import RoleMembership, RolePermission
from keyturn.cloud.properties.models import Door, Property
from keyturn.rules.types import DoorKind, Permission, Role
from keyturn.rules.visibility import (
    VISIBILITY_RULE,
    And,
    Const,
    Eq,
    EventField,
    Expr,
    In,
    Ne,
    Operand,
    Or,
    Viewer,
    ViewerField,
)


def compile_rule(expr: Expr, empty: frozenset[str] = frozenset()) -> ColumnElement[bool]:
    """Translate a rule tree into a WHERE clause over `events` whose viewer values are bound
    parameters (`viewer_params` gives them), so one clause serves every viewer.

    Membership of a Viewer set named in `empty` compiles to false, as the database plans a
    constant better than an empty list.
    """
    match expr:
        case Eq(left, right):
            return _operand(left) == _operand(right)
        case Ne(left, right):
            return _operand(left) != _operand(right)
        case In(item, collection):
            if collection.name in empty:
                return false()
            return _operand(item).in_(bindparam(VIEWER_PARAM + collection.name, expanding=True))
        case And(terms):
            return and_(*(compile_rule(term, empty) for term in terms))
        case Or(terms):
            return or_(*(compile_rule(term, empty) for term in terms))
    raise TypeError(f"not a rule expression: {expr!r}")


def _operand(operand: Operand) -> ColumnElement[object]:
    match operand:
        case EventField(name):
            column: ColumnElement[object] = getattr(Event, name)
            return column
        case ViewerField(name):
            # A None viewer value binds as SQL NULL, which equals nothing, as in the rule.
            return bindparam(VIEWER_PARAM + name)
        case Const(value):
            return literal(value)
    raise TypeError(f"not an operand: {operand!r}")


VIEWER_PARAM = "viewer_"
# The order of every history read, newest first, the id breaking ties (the cursor's order).
NEWEST_FIRST = (Event.occurred_at.desc(), Event.id.desc())


@functools.cache
def visibility_clause(empty: frozenset[str]) -> ColumnElement[bool]:
    """The visibility rule as SQL for viewers whose sets named in `empty` are empty, compiled
    once per such combination; bind a viewer with `viewer_params`."""
    return compile_rule(VISIBILITY_RULE, empty)


def empty_sets(viewer: Viewer) -> frozenset[str]:
    """The names of the viewer's set-valued facts that are empty."""
    return frozenset(
        field.name
        for field in fields(viewer)
        if isinstance(getattr(viewer, field.name), frozenset) and not getattr(viewer, field.name)
    )


def viewer_params(viewer: Viewer) -> dict[str, object]:
    """The viewer's values for the parameters of its `visibility_clause`."""
    params: dict[str, object] = {}
    for field in fields(viewer):
        value = getattr(viewer, field.name)
        params[VIEWER_PARAM + field.name] = sorted(value) if isinstance(value, frozenset) else value
    return params


def visible_events(viewer: Viewer) -> Select[Event]:
    """Events this viewer may see, newest first; callers add their own filters and limits."""
    clause = visibility_clause(empty_sets(viewer))
    return select(Event).where(clause).order_by(*NEWEST_FIRST).params(viewer_params(viewer))


# Every history read looks this up, so it is built once: building costs more than running it.
_RESIDENT_DOORS = (
    select(Door.id)
    .join(key_doors, key_doors.c.door_id == Door.id)
    .join(Key, Key.id == key_doors.c.key_id)
    .join(Grant, Grant.key_id == Key.id)
    .where(
        Grant.person_id == bindparam("person"),
        Grant.resident.is_(True),
        Grant.revoked_at.is_(None),
        Grant.starts_at <= bindparam("now"),
        or_(Grant.ends_at.is_(None), Grant.ends_at > bindparam("now")),
        Door.kind == DoorKind.RESIDENCE,
    )
)


def viewer_for(session: Session, person_id: str, now: datetime) -> Viewer:
    """The facts the visibility and photo rules need about one person, as of `now`."""
    memberships: Sequence[tuple[str, Role, str]] = session.execute(
        select(RoleMembership.property_id, RoleMembership.role, Property.portfolio_id)
        .join(Property, Property.id == RoleMembership.property_id)
        .where(RoleMembership.person_id == person_id)
    ).all()
    managed = {pid for pid, role, _ in memberships if role == Role.PROPERTY_MANAGER}
    portfolios = {folio for _, role, folio in memberships if role == Role.PORTFOLIO_MANAGER}
    if portfolios:
        managed |= set(
            session.scalars(select(Property.id).where(Property.portfolio_id.in_(portfolios)))
        )
    security = set(
        session.scalars(
            select(RolePermission.property_id).where(
                RolePermission.person_id == person_id,
                RolePermission.permission == Permission.SECURITY_VIEWER,
            )
        )
    )
    return Viewer(
        person_id=person_id,
        resident_door_ids=resident_door_ids(session, person_id, now),
        managed_property_ids=frozenset(managed),
        security_viewer_property_ids=frozenset(security & managed),
    )


def resident_door_ids(session: Session, person_id: str, now: datetime) -> frozenset[str]:
    """The residence doors where the person holds a live grant with resident status."""
    return frozenset(session.scalars(_RESIDENT_DOORS, {"person": person_id, "now": now}))
