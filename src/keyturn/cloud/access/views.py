"""HTTP routes for keys, grants and credentials: phones and mobile keys, personal doorcodes,
keycards.

Codes and tokens appear only in the response that issues them; revocations answer with the
per-lock status of the change.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access import management
from keyturn.cloud.access.revocation import Credential, Revocation, revoke
from keyturn.cloud.access.rollout import PENDING_NOTE, LockStatus
from keyturn.cloud.access.schemas import (
    CodeIssued,
    DoorcodeIssue,
    DoorcodeOut,
    GrantCreate,
    GrantOut,
    KeycardActivate,
    KeycardOut,
    KeyCreate,
    KeyOut,
    KeyUpdate,
    LockStatusOut,
    MobileKeyOut,
    MobileKeysOut,
    PhoneEnrol,
    PhoneOut,
    RevocationOut,
    Window,
)
from keyturn.cloud.auth.deps import Db, Gate, MasterKey, Now, gated, requires
from keyturn.cloud.auth.permissions import (
    POLICIES,
    Action,
    Principal,
    allows,
    standing_at,
)
from keyturn.cloud.models import Door, Doorcode, Grant, Key, Keycard, MobileKeyRegistration
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.people.service import person_at, referenced_person
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.cloud.properties.service import in_property

router = APIRouter(prefix="/api/v1", tags=["keys and credentials"], responses=GUARDED)
NAME_IN_USE = problem_responses(409, meaning={409: "The name is in use at this property"})
NO_CODE = problem_responses(
    409,
    meaning={
        409: "No live key gives the person doorcodes there, no free code is left, or the "
        "door's lock has no keypad (`missing-capability`, naming `capability` and `door_id`)"
    },
)


def locks_out(locks: list[LockStatus]) -> list[LockStatusOut]:
    return [LockStatusOut.model_validate(lock, from_attributes=True) for lock in locks]


def revocation_out(revocation: Revocation, note: str = PENDING_NOTE) -> RevocationOut:
    return RevocationOut(
        id=revocation.id,
        revoked_at=revocation.revoked_at,
        note=note,
        locks=locks_out(revocation.locks),
    )


def revoked(
    db: Session,
    master_key: bytes,
    property_id: str,
    credential: Credential,
    now: datetime,
    note: str = PENDING_NOTE,
) -> RevocationOut:
    """Revoke the credential the route found, commit, and answer with each lock's progress."""
    revocation = revoke(
        session=db,
        master_key=master_key,
        property_id=property_id,
        credential=credential,
        now=now,
    )
    db.commit()
    return revocation_out(revocation, note)


def key_out(key: Key) -> KeyOut:
    windows = (key.schedule_json or {}).get("windows", [])
    return KeyOut(
        id=key.id,
        property_id=key.property_id,
        name=key.name,
        door_ids=management.key_door_ids(key),
        windows=[Window(**window) for window in windows],
        may_share=key.may_share,
        provides_doorcodes=key.provides_doorcodes,
        created_at=key.created_at,
    )


def grant_out(grant: Grant) -> GrantOut:
    return GrantOut.model_validate(grant, from_attributes=True)


# Keys


@router.get("/properties/{property_id}/keys", response_model=Page[KeyOut])
def list_keys(
    property_id: str,
    principal: Annotated[Principal, requires(Action.KEYS_READ)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[KeyOut]:
    """The property's keys; a manager with specific keys sees only the keys assigned to them."""
    query = select(Key).where(Key.property_id == property_id)
    standing = standing_at(db, principal.person_id, property_id)
    assert standing is not None
    effective = standing.effective_for(principal)
    # Allowed for a key id nobody manages means allowed for every key (not "specific keys").
    if not allows(POLICIES[Action.KEYS_READ], effective, key_id=""):
        query = query.where(Key.id.in_(sorted(effective.managed_key_ids)))
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
    key = management.create_key(
        db,
        property_id,
        body.name,
        body.door_ids,
        [w.model_dump() for w in body.windows],
        body.may_share,
        body.provides_doorcodes,
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
    key = in_property(db, Key, key_id, property_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    key = management.update_key(db, key, changes)
    db.commit()
    return key_out(key)


# Grants


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
    key = in_property(db, Key, key_id, property_id)
    return paged(
        db, select(Grant).where(Grant.key_id == key.id), Grant.id, cursor, limit, grant_out
    )


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
) -> GrantOut:
    """Grant the key to a person of this property, from a start to an optional end.

    Resident status (V2) shows the door's history from the grant's start: nobody may give it
    to themself (403 self-resident-status), a start before now becomes now, and every grant
    of it is audited.
    """
    key = in_property(db, Key, key_id, property_id)
    person = referenced_person(db, property_id, body.person_id)
    grant = management.create_grant(
        db,
        key,
        person.id,
        body.starts_at or now,
        body.ends_at,
        body.resident,
        principal.person_id,
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
    key = in_property(db, Key, key_id, property_id)
    grant = management.grant_at(db, key, grant_id)
    return revoked(db, master_key, property_id, grant, now)


# Phones and mobile keys (the caller's own)


def _phone_out(row: MobileKeyRegistration) -> PhoneOut:
    return PhoneOut.model_validate(row, from_attributes=True)


@router.get("/properties/{property_id}/phones", response_model=Page[PhoneOut])
def list_phones(
    property_id: str,
    principal: Annotated[Principal, requires(Action.CREDENTIALS_SELF)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[PhoneOut]:
    """The caller's enrolled phones, revoked ones included."""
    query = select(MobileKeyRegistration).where(
        MobileKeyRegistration.person_id == principal.person_id
    )
    return paged(db, query, MobileKeyRegistration.id, cursor, limit, _phone_out)


@router.post(
    "/properties/{property_id}/phones",
    response_model=PhoneOut,
    status_code=201,
    responses=problem_responses(409, meaning={409: "This phone key is already enrolled"}),
)
def enrol_phone(
    property_id: str,
    body: PhoneEnrol,
    principal: Annotated[Principal, requires(Action.CREDENTIALS_SELF)],
    db: Db,
    now: Now,
) -> PhoneOut:
    """Enrol the caller's phone by its public key; then ask for mobile keys with it."""
    registration = management.enrol_phone(db, principal.person_id, body.public_key, now)
    db.commit()
    return _phone_out(registration)


@router.post(
    "/properties/{property_id}/phones/{registration_id}/mobile-keys",
    response_model=MobileKeysOut,
    responses=problem_responses(
        409, meaning={409: "The phone was revoked or its holder is suspended"}
    ),
)
async def issue_mobile_keys(
    property_id: str,
    registration_id: str,
    gate: Annotated[Gate, gated(Action.CREDENTIALS_SELF, autocommit=True)],
    master_key: MasterKey,
) -> Response:
    """Fresh short-lived mobile keys for this phone, one per live grant at this property."""

    def issue(principal: Principal) -> MobileKeysOut:
        db = gate.db
        issued = management.mobile_keys(
            db, master_key, principal.person_id, registration_id, property_id, gate.now
        )
        answer = MobileKeysOut(
            registration_id=registration_id,
            keys=[
                MobileKeyOut(
                    grant_id=item.grant_id,
                    door_ids=list(item.door_ids),
                    not_before=item.not_before,
                    expires=item.expires,
                    token=base64.urlsafe_b64encode(item.token).decode().rstrip("="),
                )
                for item in issued
            ],
        )
        # Nothing was written: end the read here, so closing the session has nothing to undo.
        db.rollback()
        return answer

    # Serialised here in one call: the model is built above, so FastAPI's re-validation of
    # the returned model would only repeat it.
    return Response((await gate.run(issue)).model_dump_json(), media_type="application/json")


@router.delete("/properties/{property_id}/phones/{registration_id}", response_model=RevocationOut)
def revoke_phone(
    property_id: str,
    registration_id: str,
    principal: Annotated[Principal, requires(Action.CREDENTIALS_SELF)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Revoke one of the caller's phones; locks refuse its mobile keys from their next sync."""
    registration = management.own_phone(db, principal.person_id, registration_id)
    return revoked(db, master_key, property_id, registration, now)


# Personal doorcodes


def _doorcode_out(row: Doorcode) -> DoorcodeOut:
    return DoorcodeOut.model_validate(row, from_attributes=True)


@router.post(
    "/properties/{property_id}/doorcodes/mine",
    response_model=CodeIssued,
    status_code=201,
    responses=NO_CODE,
)
def reset_own_doorcode(
    property_id: str,
    body: DoorcodeIssue,
    principal: Annotated[Principal, requires(Action.CREDENTIALS_SELF)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> CodeIssued:
    """A resident issues or resets their own residence-door code (never a shared door's)."""
    door = in_property(db, Door, body.door_id, property_id)
    issued = management.issue_doorcode(
        db, master_key, principal.person_id, door, now, residence_only=True
    )
    db.commit()
    return CodeIssued(id=issued.record_id, door_id=door.id, code=issued.code)


@router.get(
    "/properties/{property_id}/people/{person_id}/doorcodes", response_model=Page[DoorcodeOut]
)
def list_doorcodes(
    property_id: str,
    person_id: str,
    _principal: Annotated[Principal, requires(Action.CREDENTIALS_MANAGE)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[DoorcodeOut]:
    """A person's personal doorcodes here (never the codes themselves)."""
    person = person_at(db, property_id, person_id)
    query = (
        select(Doorcode)
        .join(Door, Door.id == Doorcode.door_id)
        .where(Doorcode.person_id == person.id, Door.property_id == property_id)
    )
    return paged(db, query, Doorcode.id, cursor, limit, _doorcode_out)


@router.post(
    "/properties/{property_id}/people/{person_id}/doorcodes",
    response_model=CodeIssued,
    status_code=201,
    responses=NO_CODE,
)
def issue_doorcode(
    property_id: str,
    person_id: str,
    body: DoorcodeIssue,
    _principal: Annotated[Principal, requires(Action.CREDENTIALS_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> CodeIssued:
    """Issue or reset a person's code at a door their key gives doorcodes for (A3)."""
    person = person_at(db, property_id, person_id)
    door = management.doors_at(db, property_id, [body.door_id])[0]
    issued = management.issue_doorcode(db, master_key, person.id, door, now, residence_only=False)
    db.commit()
    return CodeIssued(id=issued.record_id, door_id=door.id, code=issued.code)


@router.delete("/properties/{property_id}/doorcodes/{doorcode_id}", response_model=RevocationOut)
def revoke_doorcode(
    property_id: str,
    doorcode_id: str,
    _principal: Annotated[Principal, requires(Action.CREDENTIALS_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Revoke a personal doorcode; its lock drops it at its next sync."""
    row = management.doorcode_at(db, property_id, doorcode_id)
    return revoked(db, master_key, property_id, row, now)


# Keycards


def _keycard_out(row: Keycard) -> KeycardOut:
    return KeycardOut.model_validate(row, from_attributes=True)


@router.get(
    "/properties/{property_id}/people/{person_id}/keycards", response_model=Page[KeycardOut]
)
def list_keycards(
    property_id: str,
    person_id: str,
    _principal: Annotated[Principal, requires(Action.CREDENTIALS_MANAGE)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[KeycardOut]:
    """A person's keycards at this property, active or not."""
    person = person_at(db, property_id, person_id)
    query = select(Keycard).where(
        Keycard.person_id == person.id, Keycard.property_id == property_id
    )
    return paged(db, query, Keycard.id, cursor, limit, _keycard_out)


@router.post(
    "/properties/{property_id}/people/{person_id}/keycards",
    response_model=KeycardOut,
    status_code=201,
    responses=problem_responses(
        409,
        meaning={
            409: "The card is registered to someone else, or every door of the person's keys "
            "has a lock without a card reader (`missing-capability`, naming `door_ids`)"
        },
    ),
)
def activate_keycard(
    property_id: str,
    person_id: str,
    body: KeycardActivate,
    _principal: Annotated[Principal, requires(Action.CREDENTIALS_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> KeycardOut:
    """Activate a card by its identifier for a person; it works from each lock's next sync."""
    person = person_at(db, property_id, person_id)
    card = management.issue_keycard(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person.id,
        card_uid=body.card_uid,
        now=now,
    )
    db.commit()
    return _keycard_out(card)


@router.delete("/properties/{property_id}/keycards/{keycard_id}", response_model=RevocationOut)
def deactivate_keycard(
    property_id: str,
    keycard_id: str,
    _principal: Annotated[Principal, requires(Action.CREDENTIALS_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Deactivate a card; locks refuse it from their next sync."""
    card = in_property(db, Keycard, keycard_id, property_id)
    return revoked(db, master_key, property_id, card, now)
