"""HTTP routes for a person's credentials: phones and mobile keys, personal doorcodes, keycards.

Codes and tokens appear only in the response that issues them; revocations answer with the
per-lock status of the change.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Response

from keyturn.cloud.access.answers import code_out, revocation_out
from keyturn.cloud.access.credentials import service as credential_service
from keyturn.cloud.access.credentials.schemas import (
    CodeIssued,
    DoorcodeIssue,
    DoorcodeOut,
    KeycardActivate,
    KeycardOut,
    KeyDoorOut,
    MobileKeyOut,
    MobileKeysOut,
    PhoneEnrol,
    PhoneOut,
)
from keyturn.cloud.access.schemas import RevocationOut
from keyturn.cloud.auth.deps import Db, Gate, MasterKey, Now, gated, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import Doorcode, Keycard, MobileKeyRegistration
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.problems import GUARDED, problem_responses

router = APIRouter(prefix="/api/v1", tags=["keys and credentials"], responses=GUARDED)


NO_CODE = problem_responses(
    409,
    meaning={
        409: "No live key gives the person doorcodes there, no free code is left, or the "
        "door's lock has no keypad (`missing-capability`, naming `capability` and `door_id`)"
    },
)


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
    query = credential_service.phones_of(person_id=principal.person_id)
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
    registration = credential_service.enrol_phone(
        session=db, person_id=principal.person_id, public_key=body.public_key, now=now
    )
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
        issued = credential_service.mobile_keys(
            session=db,
            master_key=master_key,
            person_id=principal.person_id,
            registration_id=registration_id,
            property_id=property_id,
            now=gate.now,
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
                for item in issued.keys
            ],
            doors=[
                KeyDoorOut(
                    id=door.id, name=door.name, kind=door.kind, near_field_url=door.near_field_url
                )
                for door in issued.doors
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
    revocation = credential_service.revoke_phone(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=principal.person_id,
        registration_id=registration_id,
        now=now,
    )
    db.commit()
    return revocation_out(revocation)


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
    issued = credential_service.reset_own_doorcode(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=principal.person_id,
        door_id=body.door_id,
        now=now,
    )
    db.commit()
    return code_out(issued)


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
    query = credential_service.doorcodes_of(
        session=db, property_id=property_id, person_id=person_id
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
    issued = credential_service.issue_doorcode(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        door_id=body.door_id,
        now=now,
    )
    db.commit()
    return code_out(issued)


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
    revocation = credential_service.revoke_doorcode(
        session=db, master_key=master_key, property_id=property_id, doorcode_id=doorcode_id, now=now
    )
    db.commit()
    return revocation_out(revocation)


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
    query = credential_service.keycards_of(session=db, property_id=property_id, person_id=person_id)
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
    card = credential_service.issue_keycard(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
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
    revocation = credential_service.deactivate_keycard(
        session=db, master_key=master_key, property_id=property_id, keycard_id=keycard_id, now=now
    )
    db.commit()
    return revocation_out(revocation)
