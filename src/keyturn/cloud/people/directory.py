"""The people of a property as a person reads them: residents by unit, staff, managers with
their powers, and one person's roles, residencies and manager powers, all by name.

What the manager portal's people pages show; reading only, from the same rows the people,
residency and managers services keep.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Key, Person, RoleMembership, Unit
from keyturn.cloud.people.managers.service import ManagerEntry, list_managers
from keyturn.cloud.people.profiles import known_name, portfolio_of
from keyturn.cloud.people.residency.service import ResidencyState, residency_state
from keyturn.cloud.people.service import person_at
from keyturn.rules.types import Role

MANAGER_ROLES = frozenset({Role.PORTFOLIO_MANAGER, Role.PROPERTY_MANAGER})


@dataclass(frozen=True)
class Named:
    """Someone (or something) the page names and links to by id."""

    id: str
    name: str


@dataclass(frozen=True)
class Residency:
    """One residency: who, which unit, its dates and where it stands now."""

    membership_id: str
    person: Named
    unit: Named
    starts_at: datetime | None
    ends_at: datetime | None
    ended_at: datetime | None
    state: ResidencyState


@dataclass(frozen=True)
class UnitResidents:
    unit: Named
    residencies: list[Residency]


@dataclass(frozen=True)
class PeopleListing:
    """Everyone with a role at the property, grouped as the people page shows them."""

    units: list[UnitResidents]
    staff: list[Named]
    managers: list[ManagerEntry]
    others: dict[Role, list[Named]]  # guests, service providers, couriers

    def name_of(self, person_id: str | None) -> str | None:
        """The name of someone on the list, if they are."""
        everyone = [r.person for unit in self.units for r in unit.residencies] + self.staff
        everyone += [Named(m.person_id, m.display_name) for m in self.managers]
        everyone += [named for group in self.others.values() for named in group]
        return next((named.name for named in everyone if named.id == person_id), None)


@dataclass(frozen=True)
class PersonFile:
    """One person of the property: their roles here, residencies and manager powers."""

    person: Named
    email: str | None
    roles: list[Role]
    residencies: list[Residency]
    manager: ManagerEntry | None
    units: list[Named] = field(default_factory=list)  # the property's, for a move-in
    keys: list[Named] = field(default_factory=list)  # the property's, for managed keys


def units_named(*, session: Session, property_id: str) -> list[Named]:
    """The property's units by label."""
    rows = session.execute(
        select(Unit.id, Unit.label).where(Unit.property_id == property_id).order_by(Unit.label)
    )
    return [Named(unit_id, label) for unit_id, label in rows]


def keys_named(*, session: Session, property_id: str) -> list[Named]:
    """The property's keys by name."""
    rows = session.execute(
        select(Key.id, Key.name).where(Key.property_id == property_id).order_by(Key.name)
    )
    return [Named(key_id, name) for key_id, name in rows]


def _memberships(
    session: Session, property_id: str, person_id: str | None, *, ended_too: bool
) -> list[tuple[RoleMembership, str]]:
    """Memberships at the property with the name the portfolio knows their person by."""
    query = (
        select(RoleMembership, known_name(Person.id, portfolio_of(session, property_id)))
        .join(Person, Person.id == RoleMembership.person_id)
        .where(RoleMembership.property_id == property_id)
        .order_by(RoleMembership.starts_at, RoleMembership.created_at, RoleMembership.id)
    )
    if not ended_too:
        query = query.where(RoleMembership.in_force())
    if person_id is not None:
        query = query.where(RoleMembership.person_id == person_id)
    return [(row, name) for row, name in session.execute(query)]


def _residency(row: RoleMembership, name: str, units: dict[str, str], now: datetime) -> Residency:
    assert row.unit_id is not None
    return Residency(
        membership_id=row.id,
        person=Named(row.person_id, name),
        unit=Named(row.unit_id, units.get(row.unit_id, "")),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        ended_at=row.ended_at,
        state=residency_state(row, now),
    )


def people_listing(*, session: Session, property_id: str, now: datetime) -> PeopleListing:
    """Residents grouped by unit (every unit, empty ones too), staff, managers with their
    powers, and anyone else with a role here, each by name."""
    units = units_named(session=session, property_id=property_id)
    labels = {unit.id: unit.name for unit in units}
    by_unit: dict[str, list[Residency]] = defaultdict(list)
    by_role: dict[Role, list[Named]] = defaultdict(list)
    for row, name in _memberships(session, property_id, None, ended_too=False):
        role = Role(row.role)
        if role is Role.RESIDENT and row.unit_id is not None:
            by_unit[row.unit_id].append(_residency(row, name, labels, now))
        elif role not in MANAGER_ROLES:
            by_role[role].append(Named(row.person_id, name))
    for named in by_role.values():
        named.sort(key=lambda person: person.name.lower())
    managers = sorted(
        list_managers(session=session, property_id=property_id),
        key=lambda entry: (entry.role is not Role.PORTFOLIO_MANAGER, entry.display_name.lower()),
    )
    return PeopleListing(
        units=[UnitResidents(unit, by_unit.get(unit.id, [])) for unit in units],
        staff=by_role.pop(Role.STAFF, []),
        managers=managers,
        others={role: by_role[role] for role in Role if role in by_role},
    )


def person_file(*, session: Session, property_id: str, person_id: str, now: datetime) -> PersonFile:
    """One person of the property (404 for anyone without a role here): their roles, every
    residency here (ended ones too) and their manager powers."""
    person = person_at(session, property_id, person_id)
    units = units_named(session=session, property_id=property_id)
    labels = {unit.id: unit.name for unit in units}
    rows = _memberships(session, property_id, person_id, ended_too=True)
    name = rows[0][1] if rows else person.display_name
    roles = sorted({Role(row.role) for row, _ in rows if row.ended_at is None})
    residencies = [
        _residency(row, name, labels, now)
        for row, _ in rows
        if Role(row.role) is Role.RESIDENT and row.unit_id is not None
    ]
    residencies.sort(key=lambda r: (r.ended_at is not None, r.unit.name))
    manager = next(
        (
            entry
            for entry in list_managers(session=session, property_id=property_id)
            if entry.person_id == person_id
        ),
        None,
    )
    return PersonFile(
        person=Named(person.id, name),
        email=person.email,
        roles=roles,
        residencies=residencies,
        manager=manager,
        units=units,
        keys=keys_named(session=session, property_id=property_id),
    )
