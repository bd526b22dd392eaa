"""HTTP routes for a property's managers: list them, set a property manager's powers, remove one.

Only a portfolio manager changes managers (managers.manage), never their own access; the
managers service checks the rest and audits every change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from keyturn.cloud.auth.deps import Db, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, page_list
from keyturn.cloud.people.managers import service
from keyturn.cloud.people.managers.schemas import ManagedKeyOut, ManagerOut, ManagerPowersIn
from keyturn.cloud.problems import problem_responses

router = APIRouter(tags=["managers"])
CHANGES = problem_responses(
    403,
    404,
    409,
    422,
    meaning={
        403: "Not a portfolio manager here, the person outranks the caller, or `own-manager-powers`"
        ": nobody changes their own manager access",
        404: "No such person at this property (or, to remove, not a property manager here)",
        409: "`portfolio-manager`: a portfolio manager's powers come with the role",
        422: "`invalid-manager-permissions` (key_ids without keys 'specific', or the reverse) "
        "or `unknown-reference` (a key of another property)",
    },
)


def _manager_out(entry: service.ManagerEntry) -> ManagerOut:
    return ManagerOut(
        person_id=entry.person_id,
        display_name=entry.display_name,
        email=entry.email,
        role=entry.role,
        keys=entry.powers.keys,
        managed_keys=[ManagedKeyOut(id=key_id, name=name) for key_id, name in entry.managed_keys],
        device_management=entry.powers.device_management,
        security_viewer=entry.powers.security_viewer,
        appointed_by=entry.appointed_by,
        appointed_by_name=entry.appointed_by_name,
        appointed_at=entry.appointed_at,
    )


@router.get(
    "/properties/{property_id}/managers",
    response_model=Page[ManagerOut],
    responses=problem_responses(400, meaning={400: "The cursor names no manager of this list"}),
)
def list_managers(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PEOPLE_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[ManagerOut]:
    """Every manager of this property (its property managers and the portfolio's portfolio
    managers) with their key level, managed keys, other powers and appointment."""
    entries = service.list_managers(session=db, property_id=property_id)
    return page_list([_manager_out(e) for e in entries], lambda m: m.person_id, cursor, limit)


@router.put(
    "/properties/{property_id}/managers/{person_id}", response_model=ManagerOut, responses=CHANGES
)
def set_manager(
    property_id: str,
    person_id: str,
    body: ManagerPowersIn,
    principal: Annotated[Principal, requires(Action.MANAGERS_MANAGE)],
    db: Db,
    now: Now,
) -> ManagerOut:
    """Appoint a person of this property as property manager, or change a manager's powers.

    The body replaces the whole permission set; sending the same set again changes nothing.
    Every change is audited with the powers before and after.
    """
    entry = service.set_manager(
        session=db,
        principal=principal,
        property_id=property_id,
        person_id=person_id,
        powers=service.Powers(
            keys=body.keys,
            key_ids=frozenset(body.key_ids),
            device_management=body.device_management,
            security_viewer=body.security_viewer,
        ),
        now=now,
    )
    db.commit()
    return _manager_out(entry)


@router.delete(
    "/properties/{property_id}/managers/{person_id}",
    status_code=204,
    response_class=Response,
    responses=CHANGES,
)
def remove_manager(
    property_id: str,
    person_id: str,
    principal: Annotated[Principal, requires(Action.MANAGERS_MANAGE)],
    db: Db,
    now: Now,
) -> Response:
    """Remove a property manager: their role and every permission and managed key here.

    This is what a former manager's deletion request waits for (D4); audited.
    """
    service.remove_manager(
        session=db, principal=principal, property_id=property_id, person_id=person_id, now=now
    )
    db.commit()
    return Response(status_code=204)
