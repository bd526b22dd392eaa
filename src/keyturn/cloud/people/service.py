"""People of a property: who belongs where, role memberships, and the CSV import of residents.

A person belongs to a property through a role there; appointing or removing a manager needs
managers.manage on top of people.manage, checked and audited by the managers service. The
import is all-or-nothing and reports on every row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth import links
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import Conflict, NotFound
from keyturn.cloud.auth.permissions import Action, Principal, authorize
from keyturn.cloud.errors import InvalidReference, Refusal
from keyturn.cloud.mail.addresses import check_address
from keyturn.cloud.models import Person, RoleMembership, Unit
from keyturn.cloud.people.managers import service as managers
from keyturn.cloud.people.profiles import known_name, portfolio_of, profile_at
from keyturn.cloud.properties.service import check_unit
from keyturn.rules.types import Role

if TYPE_CHECKING:
    from keyturn.cloud.people.residency.service import MoveOut

CSV_COLUMNS = ("name", "email", "unit")
MAX_IMPORT_ROWS = 2000


class Rejected(Refusal):
    """The resident import refused as a whole; its `rows` member reports on every row."""

    status = 422
    kind = "rejected"
    title = "The request was rejected"


def people_at(property_id: str) -> Select[Person]:
    """People with at least one role at the property."""
    members = select(RoleMembership.person_id).where(
        RoleMembership.property_id == property_id, RoleMembership.in_force()
    )
    return select(Person).where(Person.id.in_(members))


def manages_a_property(*, session: Session, person_id: str) -> bool:
    """Whether the person holds a manager role in force at any property (the portal is their
    front end; everyone else's is the app)."""
    managing = [role for role in Role if role.is_manager]
    found = session.scalar(
        select(RoleMembership.id)
        .where(
            RoleMembership.person_id == person_id,
            RoleMembership.role.in_(managing),
            RoleMembership.in_force(),
        )
        .limit(1)
    )
    return found is not None


def person_at(session: Session, property_id: str, person_id: str) -> Person:
    """The person if they have a role at the property, else 404 (as for any unknown id)."""
    found = session.scalars(people_at(property_id).where(Person.id == person_id)).first()
    if found is None:
        raise NotFound()
    return found


def referenced_person(session: Session, property_id: str, person_id: str) -> Person:
    """A person named in a request body; 422 unknown-reference unless they belong here."""
    try:
        return person_at(session, property_id, person_id)
    except NotFound:
        raise InvalidReference(f"no person {person_id} at this property") from None


def memberships(session: Session, property_id: str, person_id: str) -> list[RoleMembership]:
    return list(
        session.scalars(
            select(RoleMembership)
            .where(
                RoleMembership.person_id == person_id,
                RoleMembership.property_id == property_id,
                RoleMembership.in_force(),
            )
            .order_by(RoleMembership.role, RoleMembership.id)
        )
    )


def add_person(
    *,
    session: Session,
    display_name: str,
    email: str | None = None,
    phone: str | None = None,
    now: datetime | None = None,
) -> Person:
    """A new person, known by name and optionally by email (unique: a known one is 409) and
    phone.

    No role, no account and no invitation: `add_role` places them, the auth service opens
    their account, `import_residents` and invitations do all of it by email.
    """
    if email is not None:
        email = check_address(email)
        if session.scalar(select(Person.id).where(Person.email == email.lower())) is not None:
            raise Conflict("a person with this email is already known")
    person = Person(display_name=display_name, email=email, phone=phone)
    if now is not None:
        person.created_at = now
    session.add(person)
    session.flush()
    return person


def invite_person(
    *,
    session: Session,
    config: AuthConfig,
    principal: Principal,
    property_id: str,
    email: str,
    display_name: str,
    role: Role,
    unit_id: str | None,
    is_minor: bool = False,
    now: datetime,
) -> RoleMembership:
    """Add (or find by email) a person with a role here, and email them an invitation; a
    manager role needs managers.manage and is audited."""
    if role.is_manager:
        managers.check_appointer(session, principal, property_id, None)
    membership = links.invite(
        session=session,
        config=config,
        inviter_id=principal.person_id,
        property_id=property_id,
        email=email,
        display_name=display_name,
        role=role,
        unit_id=unit_id,
        now=now,
    )
    if is_minor:
        profile_at(session, person=membership.person, property_id=property_id).is_minor = True
    if role.is_manager:
        # The invitation may have found the caller by email: nobody appoints themself.
        managers.check_appointer(session, principal, property_id, membership.person_id)
        managers.audit_role(
            session=session,
            actor_id=principal.person_id,
            membership=membership,
            given=True,
            now=now,
        )
    return membership


def update_person(
    *,
    session: Session,
    property_id: str,
    person_id: str,
    display_name: str | None,
    is_minor: bool | None,
) -> Person:
    """Change the name this portfolio knows the person by, or their minor flag; None keeps it."""
    person = person_at(session, property_id, person_id)
    profile = profile_at(session, person=person, property_id=property_id)
    if display_name is not None:
        profile.display_name = display_name
    if is_minor is not None:
        profile.is_minor = is_minor
    session.flush()
    return person


def give_role(
    *,
    session: Session,
    principal: Principal,
    property_id: str,
    person_id: str,
    role: Role,
    unit_id: str | None,
    now: datetime,
) -> RoleMembership:
    """The caller gives a person of this property one more role; manager roles need
    managers.manage, never for oneself, and are audited."""
    if role.is_manager:
        managers.check_appointer(session, principal, property_id, person_id)
    person_at(session, property_id, person_id)
    membership = add_role(
        session=session,
        property_id=property_id,
        person_id=person_id,
        role=role,
        unit_id=unit_id,
        by=principal.person_id,
    )
    if role.is_manager:
        managers.audit_role(
            session=session,
            actor_id=principal.person_id,
            membership=membership,
            given=True,
            now=now,
        )
    return membership


def add_role(
    *,
    session: Session,
    property_id: str,
    person_id: str,
    role: Role,
    unit_id: str | None,
    by: str | None,
) -> RoleMembership:
    """Give a person of this property one more role; a resident's unit must be here.

    Checks nothing about who gives it (`give_role` does, for a caller). `by` is who gave it:
    None only for the first manager of a new portfolio, whom nobody invites.
    """
    check_unit(session, property_id, unit_id)
    duplicate = session.scalars(
        select(RoleMembership.id).where(
            RoleMembership.person_id == person_id,
            RoleMembership.property_id == property_id,
            RoleMembership.role == role,
            RoleMembership.in_force(),
            RoleMembership.unit_id.is_(None)
            if unit_id is None
            else RoleMembership.unit_id == unit_id,
        )
    ).first()
    if duplicate is not None:
        raise Conflict("this person already has that role at this property")
    membership = RoleMembership(
        person_id=person_id,
        property_id=property_id,
        role=role,
        unit_id=unit_id,
        invited_by=by,
    )
    session.add(membership)
    session.flush()
    return membership


def remove_role(
    *,
    session: Session,
    master_key: bytes,
    principal: Principal,
    property_id: str,
    membership_id: str,
    now: datetime,
) -> MoveOut | None:
    """Remove one role membership; the caller must outrank its holder (and may manage
    managers, for a manager role: removing the property manager role removes the manager
    with every permission, as the managers service does).

    A resident's membership is their residency: it is ended by a move-out now, which revokes
    what depended on it and is reported; any other role is deleted (None).
    """
    # Imported here: the residency service grants keys, and the keys service reads people.
    from keyturn.cloud.people.residency.service import move_out

    membership = session.get(RoleMembership, membership_id)
    if membership is None or membership.property_id != property_id:
        raise NotFound()
    authorize(
        session, principal, Action.PEOPLE_MANAGE, property_id, subject_id=membership.person_id
    )
    role = Role(membership.role)
    if role is Role.PROPERTY_MANAGER:
        managers.remove_manager(
            session=session,
            principal=principal,
            property_id=property_id,
            person_id=membership.person_id,
            now=now,
        )
        return None
    if role.is_manager:
        managers.check_appointer(session, principal, property_id, membership.person_id)
        managers.audit_role(
            session=session,
            actor_id=principal.person_id,
            membership=membership,
            given=False,
            now=now,
        )
    if role is Role.RESIDENT:
        return move_out(
            session=session,
            master_key=master_key,
            property_id=property_id,
            membership_id=membership.id,
            at=now,
            by=principal.person_id,
            now=now,
        )
    session.delete(membership)
    session.flush()
    return None


@dataclass(frozen=True, slots=True)
class ImportRow:
    """The outcome of one CSV line: created, added (known person) or an error."""

    line: int
    email: str
    status: str
    person_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _CsvRow:
    line: int
    name: str
    email: str
    unit: str
    error: str | None = None


def import_residents(
    *,
    session: Session,
    config: AuthConfig,
    property_id: str,
    csv_text: str,
    inviter_id: str,
    now: datetime,
) -> list[ImportRow]:
    """Invite every row (name,email,unit) as a resident of its unit, or nobody at all.

    Every row is checked first; one bad row raises Rejected (422) with the report of all
    rows and nothing is written. Each resident gets the usual invitation email.
    """
    rows = _parse(csv_text)
    units = _unit_ids(session, property_id)
    report = _checked(session, property_id, rows, units)
    if any(item.error for item in report):
        raise Rejected(
            "no resident was imported: fix the rows marked as errors and send the file again",
            members={"rows": [_row_json(item) for item in report]},
        )
    done = []
    for row in rows:
        known = session.scalar(select(Person.id).where(Person.email == row.email.lower()))
        membership = links.invite(
            session=session,
            config=config,
            inviter_id=inviter_id,
            property_id=property_id,
            email=row.email,
            display_name=row.name,
            role=Role.RESIDENT,
            unit_id=units[row.unit],
            now=now,
        )
        status = "added" if known else "created"
        done.append(ImportRow(row.line, row.email, status, person_id=membership.person_id))
    session.flush()
    return done


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """What importing a CSV would do, row by row, without doing it: `created` (a new person),
    `added` (a known person, named as this portfolio knows them, becomes a resident) or
    `error`; `problem` is a fault of the whole file (its header, no rows, too many)."""

    rows: list[ImportRow]
    names: dict[int, str]  # line -> the name the row gives
    units: dict[int, str]  # line -> the unit label the row gives
    known_names: dict[int, str]  # line -> the name a known person goes by here
    problem: str | None = None

    @property
    def applicable(self) -> bool:
        return self.problem is None and not any(row.error for row in self.rows)


def preview_import(*, session: Session, property_id: str, csv_text: str) -> ImportPreview:
    """What `import_residents` would do with this CSV, checked the same way; writes nothing."""
    try:
        rows = _parse(csv_text)
    except Rejected as rejected:
        return ImportPreview([], {}, {}, {}, problem=rejected.detail)
    checked = _checked(session, property_id, rows, _unit_ids(session, property_id))
    portfolio_id = portfolio_of(session, property_id)
    report: list[ImportRow] = []
    known_names: dict[int, str] = {}
    for row, item in zip(rows, checked, strict=True):
        if item.error:
            report.append(item)
            continue
        known = session.execute(
            select(Person.id, known_name(Person.id, portfolio_id)).where(
                Person.email == row.email.lower()
            )
        ).first()
        if known is not None:
            known_names[row.line] = known[1]
        status = "added" if known is not None else "created"
        report.append(
            ImportRow(row.line, row.email, status, person_id=None if known is None else known[0])
        )
    return ImportPreview(
        report,
        names={row.line: row.name for row in rows},
        units={row.line: row.unit for row in rows},
        known_names=known_names,
    )


def _unit_ids(session: Session, property_id: str) -> dict[str, str]:
    return dict(
        session.execute(select(Unit.label, Unit.id).where(Unit.property_id == property_id)).all()
    )


def _checked(
    session: Session, property_id: str, rows: list[_CsvRow], units: dict[str, str]
) -> list[ImportRow]:
    """Every row marked ok or error, as the import checks them before writing anything."""
    report: list[ImportRow] = []
    seen: set[str] = set()
    for row in rows:
        error = row.error or _row_error(row, units, seen, session, property_id)
        seen.add(row.email.lower())
        report.append(ImportRow(row.line, row.email, "error" if error else "ok", error=error))
    return report


def _parse(text: str) -> list[_CsvRow]:
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if tuple(header) != CSV_COLUMNS:
        raise Rejected("the first line must be the header name,email,unit", members={"rows": []})
    rows = []
    for number, cells in enumerate(reader, start=2):
        stripped = [cell.strip() for cell in cells]
        if not any(stripped):
            continue
        if len(stripped) != len(CSV_COLUMNS):
            error = f"expected {len(CSV_COLUMNS)} columns, found {len(stripped)}"
            rows.append(_CsvRow(number, "", stripped[1] if len(stripped) > 1 else "", "", error))
            continue
        rows.append(_CsvRow(number, *stripped))
    if not rows:
        raise Rejected("the file has no rows after its header", members={"rows": []})
    if len(rows) > MAX_IMPORT_ROWS:
        raise Rejected(f"at most {MAX_IMPORT_ROWS} rows per import", members={"rows": []})
    return rows


def _row_error(
    row: _CsvRow, units: dict[str, str], seen: set[str], session: Session, property_id: str
) -> str | None:
    if not row.name or len(row.name) > 200:
        return "name must be 1 to 200 characters"
    try:
        check_address(row.email)
    except ValueError:
        return "email is not an address"
    if row.email.lower() in seen:
        return "email appears twice in the file"
    if row.unit not in units:
        return f"no unit labelled {row.unit!r} at this property"
    already = session.scalar(
        select(RoleMembership.id)
        .join(Person, Person.id == RoleMembership.person_id)
        .where(
            Person.email == row.email.lower(),
            RoleMembership.property_id == property_id,
            RoleMembership.role == Role.RESIDENT,
            RoleMembership.unit_id == units[row.unit],
            RoleMembership.in_force(),
        )
    )
    if already is not None:
        return "already a resident of this unit"
    return None


def _row_json(row: ImportRow) -> dict[str, object]:
    return {"line": row.line, "email": row.email, "status": row.status, "error": row.error}
