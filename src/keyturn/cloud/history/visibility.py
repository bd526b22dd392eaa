"""The visibility rule (V1-V5) as a SQL filter, compiled from the rules core's one definition.

Every query that returns events to a person goes through `visible_events`; no endpoint
filters events on its own. `viewer_for` finds the facts about the person that the rule needs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, literal, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import (
    Door,
    Event,
    Grant,
    Key,
    Property,
    RoleMembership,
    RolePermission,
    key_doors,
)
from keyturn.rules.types import DoorKind, Permission, Role
from keyturn.rules.visibility import (
    VISIBILITY_RULE,
    And,
    Const,
    During,
    Eq,
    EventField,
    Expr,
    In,
    Ne,
    Operand,
    Or,
    ResidentPeriod,
    Viewer,
    ViewerField,
)


@dataclass(frozen=True, slots=True)
class Shape:
    """What a viewer's clause depends on besides its bound values: the names of its empty
    sets, and how many periods each set of periods holds (one condition per period)."""

    empty: frozenset[str] = frozenset()
    periods: frozenset[tuple[str, int]] = frozenset()


def compile_rule(expr: Expr, shape: Shape = Shape()) -> ColumnElement[bool]:
    """Translate a rule tree into a WHERE clause over `events` whose viewer values are bound
    parameters (`viewer_params` gives them), so one clause serves every viewer of a shape.

    Membership of a Viewer set named in `shape.empty` compiles to false, as the database
    plans a constant better than an empty list; a set of periods compiles to one condition
    per period, on the door and the time.
    """
    match expr:
        case Eq(left, right):
            return _operand(left) == _operand(right)
        case Ne(left, right):
            return _operand(left) != _operand(right)
        case In(item, collection):
            if collection.name in shape.empty:
                return false()
            return _operand(item).in_(bindparam(VIEWER_PARAM + collection.name, expanding=True))
        case During(door, moment, periods):
            count = dict(shape.periods).get(periods.name, 0)
            if count == 0:
                return false()
            where, at = _operand(door), _operand(moment)
            return or_(
                *(
                    and_(
                        where == bindparam(_period_param(periods.name, n, "door")),
                        at >= bindparam(_period_param(periods.name, n, "start")),
                        at < bindparam(_period_param(periods.name, n, "end")),
                    )
                    for n in range(count)
                )
            )
        case And(terms):
            return and_(*(compile_rule(term, shape) for term in terms))
        case Or(terms):
            return or_(*(compile_rule(term, shape) for term in terms))
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
# The end bound of a period that has not ended: later than any event a lock can record.
OPEN_END = datetime(9999, 12, 31, tzinfo=UTC)
# The order of every history read, newest first, the id breaking ties (the cursor's order).
NEWEST_FIRST = (Event.occurred_at.desc(), Event.id.desc())


@functools.lru_cache(maxsize=256)
def visibility_clause(shape: Shape) -> ColumnElement[bool]:
    """The visibility rule as SQL for viewers of one `Shape`, compiled once per shape; bind a
    viewer with `viewer_params`."""
    return compile_rule(VISIBILITY_RULE, shape)


def viewer_shape(viewer: Viewer) -> Shape:
    """The viewer's Shape: its empty sets, and the size of each of its sets of periods."""
    empty: set[str] = set()
    periods: set[tuple[str, int]] = set()
    for field in fields(viewer):
        value = getattr(viewer, field.name)
        if isinstance(value, frozenset) and not value:
            empty.add(field.name)
        elif _is_periods(value):
            periods.add((field.name, len(value)))
    return Shape(frozenset(empty), frozenset(periods))


def viewer_params(viewer: Viewer) -> dict[str, object]:
    """The viewer's values for the parameters of its `visibility_clause`."""
    params: dict[str, object] = {}
    for field in fields(viewer):
        value = getattr(viewer, field.name)
        if _is_periods(value):
            for n, period in enumerate(sorted(value, key=_period_order)):
                params[_period_param(field.name, n, "door")] = period.door_id
                params[_period_param(field.name, n, "start")] = period.starts_at
                params[_period_param(field.name, n, "end")] = period.ends_at or OPEN_END
        elif isinstance(value, frozenset):
            params[VIEWER_PARAM + field.name] = sorted(value)
        else:
            params[VIEWER_PARAM + field.name] = value
    return params


def _is_periods(value: object) -> bool:
    return isinstance(value, frozenset) and any(isinstance(v, ResidentPeriod) for v in value)


def _period_order(period: ResidentPeriod) -> tuple[str, datetime, datetime]:
    return period.door_id, period.starts_at, period.ends_at or OPEN_END


def _period_param(name: str, n: int, part: str) -> str:
    return f"{VIEWER_PARAM}{name}_{n}_{part}"


def visible_events(viewer: Viewer) -> Select[Event]:
    """Events this viewer may see, newest first; callers add their own filters and limits."""
    clause = visibility_clause(viewer_shape(viewer))
    return select(Event).where(clause).order_by(*NEWEST_FIRST).params(viewer_params(viewer))


# Every history read looks this up, so it is built once: building costs more than running it.
_RESIDENT_GRANTS = (
    select(Door.id, Grant.starts_at, Grant.ends_at, Grant.revoked_at)
    .join(key_doors, key_doors.c.door_id == Door.id)
    .join(Key, Key.id == key_doors.c.key_id)
    .join(Grant, Grant.key_id == Key.id)
    .where(
        Grant.person_id == bindparam("person"),
        Grant.resident.is_(True),
        Grant.starts_at <= bindparam("now"),
        Door.kind == DoorKind.RESIDENCE,
    )
)


def viewer_for(session: Session, person_id: str, now: datetime) -> Viewer:
    """The facts the visibility and photo rules need about one person, as of `now`."""
    memberships: Sequence[tuple[str, Role, str]] = session.execute(
        select(RoleMembership.property_id, RoleMembership.role, Property.portfolio_id)
        .join(Property, Property.id == RoleMembership.property_id)
        .where(RoleMembership.person_id == person_id, RoleMembership.in_force())
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
        resident_periods=resident_periods(session, person_id, now),
        managed_property_ids=frozenset(managed),
        security_viewer_property_ids=frozenset(security & managed),
    )


def resident_periods(session: Session, person_id: str, now: datetime) -> frozenset[ResidentPeriod]:
    """The periods in which the person held resident status at the residence doors where they
    still hold it at `now` (V2): each grant with resident status there, from its start to its
    end or revocation. Someone who has moved out keeps no period at that door.

    A grant's start is when the status was given or later (access.management moves an
    earlier one), and a key carrying resident status gains no residence door, so a period
    never reaches back before the person was given resident status at that door.
    """
    rows = session.execute(_RESIDENT_GRANTS, {"person": person_id, "now": now}).all()
    home = {
        door_id
        for door_id, _, ends_at, revoked_at in rows
        if all(end is None or end > now for end in (ends_at, revoked_at))
    }
    periods: set[ResidentPeriod] = set()
    for door_id, starts_at, ends_at, revoked_at in rows:
        ends = min((end for end in (ends_at, revoked_at) if end is not None), default=None)
        if door_id in home and (ends is None or ends > starts_at):
            periods.add(ResidentPeriod(door_id, starts_at, ends))
    return frozenset(periods)
