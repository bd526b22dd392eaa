"""The visibility rule (V1-V5) as a SQL filter, compiled from the rules core's one definition.

Every query that returns events to a person goes through `visible_events`; no endpoint
filters events on its own. `viewer_for` finds the facts about the person that the rule needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, literal, or_, select
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


def compile_rule(expr: Expr, viewer: Viewer) -> ColumnElement[bool]:
    """Translate a rule tree into a WHERE clause over `events` with the viewer's values bound."""
    match expr:
        case Eq(left, right):
            return _operand(left, viewer) == _operand(right, viewer)
        case Ne(left, right):
            return _operand(left, viewer) != _operand(right, viewer)
        case In(item, collection):
            values = sorted(getattr(viewer, collection.name))
            return _operand(item, viewer).in_(values) if values else false()
        case And(terms):
            return and_(*(compile_rule(term, viewer) for term in terms))
        case Or(terms):
            return or_(*(compile_rule(term, viewer) for term in terms))
    raise TypeError(f"not a rule expression: {expr!r}")


def _operand(operand: Operand, viewer: Viewer) -> ColumnElement[object]:
    match operand:
        case EventField(name):
            column: ColumnElement[object] = getattr(Event, name)
            return column
        case ViewerField(name):
            # A None viewer value must compare like SQL NULL, which `literal(None)` does.
            return literal(getattr(viewer, name))
        case Const(value):
            return literal(value)
    raise TypeError(f"not an operand: {operand!r}")


def visibility_filter(viewer: Viewer) -> ColumnElement[bool]:
    return compile_rule(VISIBILITY_RULE, viewer)


def visible_events(viewer: Viewer) -> Select[Event]:
    """Events this viewer may see, newest first; callers add their own filters and limits."""
    return (
        select(Event)
        .where(visibility_filter(viewer))
        .order_by(Event.occurred_at.desc(), Event.id.desc())
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
    resident_doors = session.scalars(
        select(Door.id)
        .join(key_doors, key_doors.c.door_id == Door.id)
        .join(Key, Key.id == key_doors.c.key_id)
        .join(Grant, Grant.key_id == Key.id)
        .where(
            Grant.person_id == person_id,
            Grant.resident.is_(True),
            Grant.revoked_at.is_(None),
            Grant.starts_at <= now,
            or_(Grant.ends_at.is_(None), Grant.ends_at > now),
            Door.kind == DoorKind.RESIDENCE,
        )
    )
    return Viewer(
        person_id=person_id,
        resident_door_ids=frozenset(resident_doors),
        managed_property_ids=frozenset(managed),
        security_viewer_property_ids=frozenset(security & managed),
    )
