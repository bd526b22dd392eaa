"""The portal's people pages: who belongs to the property, inviting someone, one person's file
(move in, move out, manager powers) and the CSV import of residents with a preview.

Each form mirrors an API route: the same Action, the same request schema, the same service.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from keyturn.cloud.auth.deps import Config, Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.auth.schemas import InvitationCreate
from keyturn.cloud.people import directory
from keyturn.cloud.people import service as people
from keyturn.cloud.people.managers import service as managers
from keyturn.cloud.people.managers.schemas import ManagerPowersIn
from keyturn.cloud.people.residency import service as residency
from keyturn.cloud.people.residency.schemas import MoveIn, MoveOutRequest
from keyturn.cloud.people.schemas import ResidentImport
from keyturn.cloud.portal.navigation import property_path
from keyturn.cloud.portal.templating import render
from keyturn.cloud.web.gate import Viewer, page
from keyturn.rules.types import Role

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)

ROLE_WORDS = {
    Role.PORTFOLIO_MANAGER: "Portfolio manager",
    Role.PROPERTY_MANAGER: "Property manager",
    Role.STAFF: "Staff",
    Role.RESIDENT: "Resident",
    Role.GUEST: "Guest",
    Role.SERVICE_PROVIDER: "Service provider",
    Role.COURIER: "Courier",
}
INVITABLE_ROLES = [
    Role(role) for role in get_args(InvitationCreate.model_fields["role"].annotation)
]
KEY_LEVEL_WORDS = {
    managers.KeyLevel.FULL: "Full: create, edit and give every key",
    managers.KeyLevel.LIMITED: "Limited: give and share every key, edit none",
    managers.KeyLevel.SPECIFIC: "Specific keys: give only the keys chosen below",
    managers.KeyLevel.NONE: "No keys",
}
FORM_ERRORS = "form"


def _errors(error: ValidationError, fields: dict[str, str]) -> dict[str, list[str]]:
    """The schema's messages by form field; `fields` maps schema fields to form fields, and a
    message about the whole request goes under FORM_ERRORS."""
    found: dict[str, list[str]] = {}
    for item in error.errors():
        where = str(item["loc"][0]) if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        found.setdefault(fields.get(where, FORM_ERRORS), []).append(message)
    return found


def _local_start(day_text: str, zone: ZoneInfo) -> datetime | str:
    """The start of a day in the property's zone, or the text itself for the schema to refuse."""
    try:
        return datetime.combine(date.fromisoformat(day_text), time(), tzinfo=zone)
    except ValueError:
        return day_text


def _to(property_id: str, below: str) -> RedirectResponse:
    return RedirectResponse(property_path(property_id, below), status_code=303)


# The list ------------------------------------------------------------------------------------


@router.get("/people", response_class=HTMLResponse)
def people_page(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_READ)],
    db: Db,
    done: str | None = None,
    person: str | None = None,
    count: int | None = None,
) -> HTMLResponse:
    """Residents by unit, staff, managers with their powers, and anyone else with a role."""
    listing = directory.people_listing(session=db, property_id=property_id, now=viewer.now)
    return render(
        request,
        "people/list.html",
        viewer=viewer,
        title="People",
        listing=listing,
        role_words=ROLE_WORDS,
        done=done,
        done_name=listing.name_of(person),
        done_count=count,
    )


# Inviting someone ----------------------------------------------------------------------------


def _invite_form(
    request: Request,
    viewer: Viewer,
    db: Db,
    property_id: str,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "people/invite.html",
        viewer=viewer,
        title="Invite someone",
        roles=[(role.value, ROLE_WORDS[role]) for role in INVITABLE_ROLES],
        units=directory.units_named(session=db, property_id=property_id),
        values=values,
        errors=errors,
        status_code=status_code,
    )


@router.get("/people/invite", response_class=HTMLResponse)
def invite_form(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_MANAGE)],
    db: Db,
) -> HTMLResponse:
    """The invitation form: email, name, role and, for a resident, the unit."""
    return _invite_form(request, viewer, db, property_id, {"role": Role.RESIDENT.value}, {})


@router.post("/people/invite", response_model=None)
def invite(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_MANAGE)],
    db: Db,
    config: Config,
    email: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    unit_id: Annotated[str, Form()] = "",
) -> Response:
    """Invite the person as POST /properties/{property_id}/invitations does."""
    values = {"email": email, "display_name": display_name, "role": role, "unit_id": unit_id}
    try:
        body = InvitationCreate.model_validate(
            {"email": email, "display_name": display_name, "role": role, "unit_id": unit_id or None}
        )
    except ValidationError as error:
        errors = _errors(error, {name: name for name in values} | {"": "unit_id"})
        return _invite_form(request, viewer, db, property_id, values, errors, 422)
    membership = people.invite_person(
        session=db,
        config=config,
        principal=viewer.principal,
        property_id=property_id,
        email=body.email,
        display_name=body.display_name,
        role=Role(body.role),
        unit_id=body.unit_id,
        now=viewer.now,
    )
    db.commit()
    return _to(property_id, f"/people?done=invited&person={membership.person_id}")


# The CSV import ------------------------------------------------------------------------------


def _import_form(
    request: Request, viewer: Viewer, errors: dict[str, list[str]], pasted: str, status_code: int
) -> HTMLResponse:
    return render(
        request,
        "people/import.html",
        viewer=viewer,
        title="Import residents",
        errors=errors,
        pasted=pasted,
        status_code=status_code,
    )


@router.get("/people/import", response_class=HTMLResponse)
def import_form(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_MANAGE)],
) -> HTMLResponse:
    """Upload (or paste) a CSV of residents to preview before anything changes."""
    return _import_form(request, viewer, {}, "", 200)


async def _csv_text(csv_file: UploadFile | None, pasted: str) -> str:
    if csv_file is not None and csv_file.filename:
        return (await csv_file.read()).decode("utf-8-sig", errors="replace")
    return pasted


@router.post("/people/import/preview", response_class=HTMLResponse)
async def import_preview(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_MANAGE)],
    db: Db,
    csv_file: Annotated[UploadFile | None, Form()] = None,
    csv: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """What the import would do, row by row; changes nothing."""
    text = await _csv_text(csv_file, csv)
    try:
        body = ResidentImport.model_validate({"csv": text})
    except ValidationError as error:
        return _import_form(request, viewer, _errors(error, {"csv": "csv"}), text, 422)
    preview = people.preview_import(session=db, property_id=property_id, csv_text=body.csv)
    return render(
        request,
        "people/import_preview.html",
        viewer=viewer,
        title="Import residents: preview",
        preview=preview,
        csv_text=body.csv,
    )


@router.post("/people/import/apply", response_model=None)
def import_apply(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_MANAGE)],
    db: Db,
    config: Config,
    csv: Annotated[str, Form()] = "",
) -> Response:
    """Import the previewed CSV as POST /properties/{property_id}/people/import does: every
    row or none (a file that no longer checks out is refused as a whole)."""
    try:
        body = ResidentImport.model_validate({"csv": csv})
    except ValidationError as error:
        return _import_form(request, viewer, _errors(error, {"csv": "csv"}), csv, 422)
    rows = people.import_residents(
        session=db,
        config=config,
        property_id=property_id,
        csv_text=body.csv,
        inviter_id=viewer.principal.person_id,
        now=viewer.now,
    )
    db.commit()
    return _to(property_id, f"/people?done=imported&count={len(rows)}")


# One person ----------------------------------------------------------------------------------


def _person_page(
    request: Request,
    viewer: Viewer,
    db: Db,
    property_id: str,
    person_id: str,
    *,
    done: str | None = None,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found = directory.person_file(
        session=db, property_id=property_id, person_id=person_id, now=viewer.now
    )
    return render(
        request,
        "people/person.html",
        viewer=viewer,
        title=found.person.name,
        file=found,
        role_words=ROLE_WORDS,
        key_levels=KEY_LEVEL_WORDS,
        done=done,
        errors=errors or {},
        today=viewer.now.astimezone(viewer.zone).date().isoformat(),
        status_code=status_code,
    )


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person_page(
    request: Request,
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_READ)],
    db: Db,
    done: str | None = None,
) -> HTMLResponse:
    """One person: roles here, residencies, manager powers, and what may be changed."""
    return _person_page(request, viewer, db, property_id, person_id, done=done)


@router.post("/people/{person_id}/move-in", response_model=None)
def move_in(
    request: Request,
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_MANAGE)],
    db: Db,
    master_key: MasterKey,
    config: Config,
    unit_id: Annotated[str, Form()] = "",
    starts_on: Annotated[str, Form()] = "",
) -> Response:
    """Move the person into a unit as POST /properties/{property_id}/residencies does."""
    fields: dict[str, Any] = {
        "person_id": person_id,
        "unit_id": unit_id,
        "starts_at": _local_start(starts_on, viewer.zone),
    }
    try:
        body = MoveIn.model_validate(fields)
    except ValidationError as error:
        errors = _errors(error, {"unit_id": "unit_id", "starts_at": "starts_on"})
        return _person_page(
            request, viewer, db, property_id, person_id, errors=errors, status_code=422
        )
    residency.move_in_as(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        person_id=person_id,
        unit_id=body.unit_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        now=viewer.now,
        config=config,
    )
    db.commit()
    return _to(property_id, f"/people/{person_id}?done=moved-in")


@router.post("/people/{person_id}/move-out", response_model=None)
def move_out(
    request: Request,
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.PEOPLE_MANAGE)],
    db: Db,
    master_key: MasterKey,
    membership_id: Annotated[str, Form()] = "",
    when: Annotated[str, Form()] = "now",
    on: Annotated[str, Form()] = "",
) -> Response:
    """Move the person out of one residency, now or on a date, as POST
    /properties/{property_id}/residencies/{membership_id}/move-out does."""
    at = None if when == "now" else _local_start(on, viewer.zone)
    try:
        body = MoveOutRequest.model_validate({"at": at})
    except ValidationError as error:
        errors = _errors(error, {"at": "move_out_on"})
        return _person_page(
            request, viewer, db, property_id, person_id, errors=errors, status_code=422
        )
    report = residency.move_out_as(
        session=db,
        master_key=master_key,
        principal=viewer.principal,
        property_id=property_id,
        membership_id=membership_id,
        at=body.at,
        now=viewer.now,
    )
    db.commit()
    if report.scheduled:
        return _to(property_id, f"/people/{report.person_id}?done=move-out-scheduled")
    return _to(property_id, "/people?done=moved-out")


@router.post("/people/{person_id}/manager", response_model=None)
def set_manager(
    request: Request,
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.MANAGERS_MANAGE)],
    db: Db,
    keys: Annotated[str, Form()] = "",
    key_ids: Annotated[list[str] | None, Form()] = None,
    device_management: Annotated[str, Form()] = "",
    security_viewer: Annotated[str, Form()] = "",
) -> Response:
    """Set the person's whole manager permission set as PUT
    /properties/{property_id}/managers/{person_id} does."""
    fields = {
        "keys": keys,
        "key_ids": (key_ids or []) if keys == managers.KeyLevel.SPECIFIC else [],
        "device_management": device_management == "yes",
        "security_viewer": security_viewer == "yes",
    }
    try:
        body = ManagerPowersIn.model_validate(fields)
    except ValidationError as error:
        errors = _errors(error, {"keys": "keys", "key_ids": "key_ids"})
        return _person_page(
            request, viewer, db, property_id, person_id, errors=errors, status_code=422
        )
    managers.set_manager(
        session=db,
        principal=viewer.principal,
        property_id=property_id,
        person_id=person_id,
        powers=managers.Powers(
            keys=body.keys,
            key_ids=frozenset(body.key_ids),
            device_management=body.device_management,
            security_viewer=body.security_viewer,
        ),
        now=viewer.now,
    )
    db.commit()
    return _to(property_id, f"/people/{person_id}?done=powers-saved")


@router.post("/people/{person_id}/manager/remove", response_model=None)
def remove_manager(
    property_id: str,
    person_id: str,
    viewer: Annotated[Viewer, page(Action.MANAGERS_MANAGE)],
    db: Db,
) -> RedirectResponse:
    """Remove the person as property manager as DELETE
    /properties/{property_id}/managers/{person_id} does."""
    managers.remove_manager(
        session=db,
        principal=viewer.principal,
        property_id=property_id,
        person_id=person_id,
        now=viewer.now,
    )
    db.commit()
    return _to(property_id, "/people?done=manager-removed")
