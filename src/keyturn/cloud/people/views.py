"""HTTP routes for the people of a property: invite, list, read, roles, CSV import, consent
managers, and the PMS sync's reviews.

Giving or taking a manager role needs managers.manage on top of people.manage; the managers
service checks and audits it, whichever route it comes through.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from keyturn.cloud.auth.deps import (
    Config,
    Db,
    MasterKey,
    Now,
    requires,
)
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import Person, RoleMembership
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.people import service
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.people.consent import views as consent_views
from keyturn.cloud.people.consent.views import consent_at_out
from keyturn.cloud.people.managers import views as managers_views
from keyturn.cloud.people.pms import views as pms_views
from keyturn.cloud.people.profiles import read_profile_at
from keyturn.cloud.people.schemas import (
    ImportReport,
    ImportRowOut,
    MembershipOut,
    PersonCreate,
    PersonOut,
    PersonUpdate,
    ResidentImport,
    RoleIn,
)
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.rules.types import Role

router = APIRouter(prefix="/api/v1", tags=["people"], responses=GUARDED)
HAS_ROLE = problem_responses(409, meaning={409: "The person already has that role here"})


def _membership_out(row: RoleMembership) -> MembershipOut:
    return MembershipOut.model_validate(row, from_attributes=True)


def _person_out(db: Session, property_id: str, person: Person) -> PersonOut:
    profile = read_profile_at(db, person=person, property_id=property_id)
    return PersonOut(
        id=person.id,
        display_name=profile.display_name,
        email=person.email,
        is_minor=profile.is_minor,
        roles=[_membership_out(m) for m in service.memberships(db, property_id, person.id)],
        suspended_at=profile.suspended_at,
        consent=consent_at_out(profile, consent.consent_at(db, person, property_id)),
        created_at=person.created_at,
    )


@router.get("/properties/{property_id}/people", response_model=Page[PersonOut])
def list_people(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PEOPLE_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[PersonOut]:
    """People with a role at this property, with their roles here."""
    return paged(
        db,
        service.people_at(property_id),
        Person.id,
        cursor,
        limit,
        lambda person: _person_out(db, property_id, person),
    )


@router.post(
    "/properties/{property_id}/people",
    response_model=PersonOut,
    status_code=201,
    responses=HAS_ROLE,
)
def create_person(
    property_id: str,
    body: PersonCreate,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    config: Config,
) -> PersonOut:
    """Add (or find by email) a person with a role here, and email them an invitation."""
    membership = service.invite_person(
        session=db,
        config=config,
        principal=principal,
        property_id=property_id,
        email=body.email,
        display_name=body.display_name,
        role=Role(body.role),
        unit_id=body.unit_id,
        is_minor=body.is_minor,
        now=now,
    )
    db.commit()
    return _person_out(db, property_id, membership.person)


@router.post(
    "/properties/{property_id}/people/import", response_model=ImportReport, status_code=201
)
def import_residents(
    property_id: str,
    body: ResidentImport,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    config: Config,
) -> ImportReport:
    """Import residents from CSV (name,email,unit): every row or none, with a per-row report.

    A file with any bad row answers 422 `rejected` with `rows`, each marked ok or error.
    """
    rows = service.import_residents(
        session=db,
        config=config,
        property_id=property_id,
        csv_text=body.csv,
        inviter_id=principal.person_id,
        now=now,
    )
    db.commit()
    return ImportReport(
        imported=len(rows),
        rows=[
            ImportRowOut(line=r.line, email=r.email, status=r.status, person_id=r.person_id)
            for r in rows
        ],
    )


@router.get("/properties/{property_id}/people/{person_id}", response_model=PersonOut)
def read_person(
    property_id: str,
    person_id: str,
    _principal: Annotated[Principal, requires(Action.PEOPLE_READ)],
    db: Db,
) -> PersonOut:
    """One person of this property, with their roles here and suspension state."""
    return _person_out(db, property_id, service.person_at(db, property_id, person_id))


@router.patch(
    "/properties/{property_id}/people/{person_id}",
    response_model=PersonOut,
    responses=problem_responses(
        409, meaning={409: "`consent-required`: a minor's held credentials need guardian consent"}
    ),
)
def update_person(
    property_id: str,
    person_id: str,
    body: PersonUpdate,
    _principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
) -> PersonOut:
    """Change the name this portfolio knows the person by, or their minor flag here; fields
    left out (or null) stay as they are. Other portfolios' records of the person never change.

    Marking someone a minor who holds credentials at a New York City property answers 409
    `consent-required` unless a guardian's written consent is on file (R7).
    """
    person = service.update_person(
        session=db,
        property_id=property_id,
        person_id=person_id,
        display_name=body.display_name,
        is_minor=body.is_minor,
    )
    db.commit()
    return _person_out(db, property_id, person)


@router.post(
    "/properties/{property_id}/people/{person_id}/roles",
    response_model=MembershipOut,
    status_code=201,
    responses=HAS_ROLE,
)
def add_role(
    property_id: str,
    person_id: str,
    body: RoleIn,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
) -> MembershipOut:
    """Give a person of this property another role; manager roles need managers.manage."""
    membership = service.give_role(
        session=db,
        principal=principal,
        property_id=property_id,
        person_id=person_id,
        role=Role(body.role),
        unit_id=body.unit_id,
        now=now,
    )
    db.commit()
    return _membership_out(membership)


@router.delete(
    "/properties/{property_id}/roles/{membership_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(409, meaning={409: "The residency has already ended"}),
)
def remove_role(
    property_id: str,
    membership_id: str,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> Response:
    """Remove one role membership; removing a manager role needs managers.manage, and
    removing the property manager role also removes that manager's permissions here.

    A resident's role is their residency: removing it moves them out now, revoking what
    depended on it (audited; `POST .../residencies/{id}/move-out` answers the same with the
    per-lock report); any other role is simply removed.
    """
    service.remove_role(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        membership_id=membership_id,
        now=now,
    )
    db.commit()
    return Response(status_code=204)


# The consent routes (R5, R7), the manager routes and the PMS reviews live in their own
# modules, served under this router's prefix.
router.include_router(consent_views.router)
router.include_router(managers_views.router)
router.include_router(pms_views.router)
