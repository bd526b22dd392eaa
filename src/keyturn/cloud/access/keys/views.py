"""HTTP routes for keys and grants at a property.

Revoking a grant answers with the per-lock status of the change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from keyturn.cloud.access.answers import revocation_out
from keyturn.cloud.access.doors import key_door_ids
from keyturn.cloud.access.keys import service as key_service
from keyturn.cloud.access.keys.schemas import (
    GrantCreate,
    GrantOut,
    KeyCreate,
    KeyOut,
    KeyUpdate,
    Window,
)
from keyturn.cloud.access.schemas import RevocationOut
from keyturn.cloud.auth.deps import Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import Grant, Key
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.cloud.properties.service import in_property

router = APIRouter(prefix="/api/v1", tags=["keys and credentials"], responses=GUARDED)


NAME_IN_USE = problem_responses(409, meaning={409: "The name is in use at this property"})


def key_out(key: Key) -> KeyOut:
    windows = (key.schedule_json or {}).get("windows", [])
    return KeyOut(
        id=key.id,
        property_id=key.property_id,
        name=key.name,
        door_ids=key_door_ids(key),
        windows=[Window(**window) for window in windows],
        may_share=key.may_share,
        provides_doorcodes=key.provides_doorcodes,
        unit_id=key.unit_id,
        created_at=key.created_at,
    )


def grant_out(grant: Grant) -> GrantOut:
    return GrantOut.model_validate(grant, from_attributes=True)


@router.get("/properties/{property_id}/keys", response_model=Page[KeyOut])
def list_keys(
    property_id: str,
    principal: Annotated[Principal, requires(Action.KEYS_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[KeyOut]:
    """The property's keys; a manager with specific keys sees only the keys assigned to them."""
    query = key_service.keys_at(session=db, principal=principal, property_id=property_id)
    return paged(db, query, Key.id, cursor, limit, key_out)


@router.post(
    "/properties/{property_id}/keys", response_model=KeyOut, status_code=201, responses=NAME_IN_USE
)
def create_key(
    property_id: str,
    body: KeyCreate,
    _principal: Annotated[Principal, requires(Action.KEYS_MANAGE)],
    db: Db,
) -> KeyOut:
    """A key: doors of this property plus a weekly schedule, with its sharing flags."""
    key = key_service.create_key(
        session=db,
        property_id=property_id,
        name=body.name,
        door_ids=body.door_ids,
        windows=body.windows,
        may_share=body.may_share,
        provides_doorcodes=body.provides_doorcodes,
        unit_id=body.unit_id,
    )
    db.commit()
    return key_out(key)


@router.get("/properties/{property_id}/keys/{key_id}", response_model=KeyOut)
def read_key(
    property_id: str,
    key_id: str,
    _principal: Annotated[Principal, requires(Action.KEYS_READ)],
    db: Db,
) -> KeyOut:
    """One key with its doors and schedule."""
    return key_out(in_property(db, Key, key_id, property_id))


@router.patch(
    "/properties/{property_id}/keys/{key_id}",
    response_model=KeyOut,
    responses=problem_responses(
        409,
        meaning={
            409: "The name is in use here, or a residence door was added to a key that "
            "carries resident status"
        },
    ),
)
def update_key(
    property_id: str,
    key_id: str,
    body: KeyUpdate,
    _principal: Annotated[Principal, requires(Action.KEYS_MANAGE)],
    db: Db,
) -> KeyOut:
    """Change a key's doors, schedule, name or flags; locks get it at their next sync.

    A key ever granted with resident status gains no residence door (409 resident-key-door):
    its holders would see that door's earlier history (V2); grant a new key for it instead.
    """
    key = key_service.update_key(session=db, property_id=property_id, key_id=key_id, changes=body)
    db.commit()
    return key_out(key)


@router.get("/properties/{property_id}/keys/{key_id}/grants", response_model=Page[GrantOut])
def list_grants(
    property_id: str,
    key_id: str,
    _principal: Annotated[Principal, requires(Action.KEYS_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[GrantOut]:
    """Everyone this key was granted to, revoked grants included."""
    query = key_service.grants_of(session=db, property_id=property_id, key_id=key_id)
    return paged(db, query, Grant.id, cursor, limit, grant_out)


@router.post(
    "/properties/{property_id}/keys/{key_id}/grants",
    response_model=GrantOut,
    status_code=201,
    responses=problem_responses(
        403,
        409,
        meaning={
            403: "The caller may not grant keys here, or gave themself resident status",
            409: "The person already holds this key",
        },
    ),
)
def create_grant(
    property_id: str,
    key_id: str,
    body: GrantCreate,
    principal: Annotated[Principal, requires(Action.KEYS_GRANT)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> GrantOut:
    """Grant the key to a person of this property, from a start to an optional end; the key's
    doors publish a new access list at once, which locks apply at their next sync.

    Resident status (V2) shows the door's history from the grant's start: nobody may give it
    to themself (403 self-resident-status), a start before now becomes now, and every grant
    of it is audited.
    """
    grant = key_service.give_key(
        session=db,
        master_key=master_key,
        property_id=property_id,
        key_id=key_id,
        person_id=body.person_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        resident=body.resident,
        created_by=principal.person_id,
        now=now,
    )
    db.commit()
    return grant_out(grant)


@router.delete(
    "/properties/{property_id}/keys/{key_id}/grants/{grant_id}", response_model=RevocationOut
)
def revoke_grant(
    property_id: str,
    key_id: str,
    grant_id: str,
    _principal: Annotated[Principal, requires(Action.KEYS_GRANT)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Revoke a grant; every lock of the key's doors drops it at its next sync."""
    revocation = key_service.revoke_grant(
        session=db,
        master_key=master_key,
        property_id=property_id,
        key_id=key_id,
        grant_id=grant_id,
        now=now,
    )
    db.commit()
    return revocation_out(revocation)
