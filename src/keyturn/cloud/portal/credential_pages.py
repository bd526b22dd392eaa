"""A person's credentials in the portal: doorcodes, keycards and phones, and the lost phone (A6).

Each form calls the service its API route calls, under the same action. A doorcode is never
shown here: the page has it emailed to the person and says so.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from keyturn.cloud.access.credentials import service as credential_service
from keyturn.cloud.access.credentials.held import CredentialsHeld, credentials_held
from keyturn.cloud.access.credentials.schemas import DoorcodeIssue, KeycardActivate
from keyturn.cloud.access.suspension import service as suspension
from keyturn.cloud.auth.deps import Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.portal.navigation import property_path
from keyturn.cloud.portal.templating import render
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)
PAGE = "/people/{person_id}/credentials"

# What the page confirms after a form, by the `done` word it is sent back with.
DONE = {
    "keycard-activated": "The keycard is active; each lock accepts it from its next sync.",
    "keycard-deactivated": "The keycard is deactivated; each lock refuses it from its next sync.",
    "suspended": "Building access is suspended.",
    "restored": "Access is restored. The person must enrol a new phone to get mobile keys.",
}
EmptyField = Annotated[str, Form(max_length=200)]


def _page_url(property_id: str, person_id: str, **query: str) -> str:
    url = property_path(property_id, PAGE.format(person_id=person_id))
    return f"{url}?{urlencode(query)}" if query else url


def _back(property_id: str, person_id: str, **query: str) -> RedirectResponse:
    return RedirectResponse(_page_url(property_id, person_id, **query), status_code=303)


def _show(
    request: Request,
    viewer: Viewer,
    db: Db,
    person_id: str,
    *,
    done: str | None = None,
    emailed_door: str | None = None,
    errors: dict[str, list[str]] | None = None,
    card_number: str = "",
) -> HTMLResponse:
    assert viewer.prop is not None
    held: CredentialsHeld = credentials_held(
        session=db,
        property_id=viewer.prop.id,
        person_id=person_id,
        now=viewer.now,
        with_credentials=viewer.can(Action.CREDENTIALS_MANAGE),
    )
    emailed = None
    if done == "doorcode-emailed" and held.doorcodes is not None:
        emailed = next((c.door_name for c in held.doorcodes if c.door_id == emailed_door), None)
    return render(
        request,
        "credentials/person.html",
        viewer=viewer,
        title=f"Credentials of {held.person_name}",
        status_code=422 if errors else 200,
        held=held,
        page_url=_page_url(viewer.prop.id, person_id),
        done=DONE.get(done or ""),
        emailed_door=emailed,
        errors=errors or {},
        card_number=card_number,
    )


@router.get(PAGE, response_class=HTMLResponse)
def credentials_page(
    request: Request,
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_SUSPEND)],
    db: Db,
    done: str | None = None,
    door: str | None = None,
) -> HTMLResponse:
    """The person's doorcodes, keycards and phones (for who manages credentials) and their
    suspension (for every manager, as the API's suspension routes)."""
    return _show(request, viewer, db, person_id, done=done, emailed_door=door)


@router.post(PAGE + "/doorcodes")
def issue_doorcode(
    request: Request,
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.CREDENTIALS_MANAGE)],
    db: Db,
    master_key: MasterKey,
    door_id: EmptyField = "",
) -> Response:
    """Issue or reset the person's doorcode at a door; it is emailed to them, never shown."""
    try:
        body = DoorcodeIssue(door_id=door_id)
    except ValidationError:
        return _show(request, viewer, db, person_id, errors={"door_id": ["Choose a door."]})
    sent = credential_service.email_doorcode(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        door_id=body.door_id,
        now=viewer.now,
    )
    db.commit()
    return _back(property_id, person_id, done="doorcode-emailed", door=sent.door_id)


@router.post(PAGE + "/keycards")
def activate_keycard(
    request: Request,
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.CREDENTIALS_MANAGE)],
    db: Db,
    master_key: MasterKey,
    card_number: EmptyField = "",
) -> Response:
    """Activate a keycard by its number for the person."""
    try:
        body = KeycardActivate(card_uid=card_number.strip())
    except ValidationError:
        errors = {"card_number": ["Enter the number printed on the card: 4 to 64 hex digits."]}
        return _show(request, viewer, db, person_id, errors=errors, card_number=card_number)
    credential_service.issue_keycard(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        card_uid=body.card_uid,
        now=viewer.now,
    )
    db.commit()
    return _back(property_id, person_id, done="keycard-activated")


@router.post(PAGE + "/keycards/{keycard_id}/deactivate")
def deactivate_keycard(
    property_id: str,
    person_id: str,
    keycard_id: str,
    viewer: Annotated[Viewer, page(Action.CREDENTIALS_MANAGE)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Deactivate a keycard; each lock refuses it from its next sync."""
    credential_service.deactivate_keycard(
        session=db,
        master_key=master_key,
        property_id=property_id,
        keycard_id=keycard_id,
        now=viewer.now,
    )
    db.commit()
    return _back(property_id, person_id, done="keycard-deactivated")


@router.post(PAGE + "/suspend")
def suspend(
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_SUSPEND)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Lost or stolen phone (A6): suspend at once and email the person a temporary doorcode."""
    suspension.suspend(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        suspended_by=viewer.principal.person_id,
        send_temporary_code=True,
        now=viewer.now,
    )
    db.commit()
    return _back(property_id, person_id, done="suspended")


@router.post(PAGE + "/restore")
def restore(
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_SUSPEND)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Lift the suspension; mobile keys need a newly enrolled phone."""
    suspension.restore(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        now=viewer.now,
    )
    db.commit()
    return _back(property_id, person_id, done="restored")
