"""The keys pages: a property's keys, a key's form, and a key's grants with how far each
change has reached the locks.

Each page runs the same check and calls the same service as the API's key routes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.datastructures import FormData
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from keyturn.cloud.access.keys import service as key_service
from keyturn.cloud.access.keys.schemas import GrantCreate, KeyCreate, KeyUpdate
from keyturn.cloud.access.keys.shown import KeyForm, key_form, key_page, keys_listed
from keyturn.cloud.auth.deps import Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.portal.templating import render
from keyturn.cloud.web.formatting import WEEKDAYS, rollout_words, schedule_words
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)

DONE = {
    "created": "The key was created.",
    "changed": "The key was changed; locks get it at their next sync.",
    "given": "The key was given.",
    "revoked": "The grant was revoked.",
}
FIELDS = {"name": "name", "door_ids": "doors", "windows": "schedule"}
GRANT_FIELDS = {"person_id": "Person", "starts_at": "Starts", "ends_at": "Ends"}
Errors = dict[str, list[str]]


def _keys_url(property_id: str, key_id: str | None = None) -> str:
    base = f"/portal/properties/{property_id}/keys"
    return base if key_id is None else f"{base}/{key_id}"


def _words(viewer: Viewer) -> dict[str, Any]:
    """The template helpers that write schedules and rollouts for a person."""
    return {
        "schedule": lambda windows: schedule_words((w.weekday, w.start, w.end) for w in windows),
        "rollout": lambda locks: rollout_words(locks, viewer.zone, viewer.now),
        "weekdays": WEEKDAYS,
    }


@router.get("/keys", response_class=HTMLResponse)
def keys_list(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_READ)],
    db: Db,
) -> HTMLResponse:
    """The property's keys the viewer may read, with their doors, schedule and holders."""
    keys = keys_listed(
        session=db, principal=viewer.principal, property_id=property_id, now=viewer.now
    )
    return render(
        request, "keys/list.html", viewer=viewer, title="Keys", keys=keys, **_words(viewer)
    )


# The key form -------------------------------------------------------------------------------


def _form_values(form: FormData) -> dict[str, Any]:
    """The key form as the API's body: name, door ids, the windows of each weekday (a row of
    start and end per window, or "all day"), the flags."""
    windows = []
    for weekday in range(len(WEEKDAYS)):
        if form.get(f"all_day_{weekday}"):
            windows.append({"weekday": weekday, "start": "00:00", "end": "24:00"})
            continue
        starts, ends = form.getlist(f"start_{weekday}"), form.getlist(f"end_{weekday}")
        for start, end in zip(starts, ends, strict=False):
            if start or end:
                windows.append({"weekday": weekday, "start": str(start), "end": str(end)})
    return {
        "name": str(form.get("name") or ""),
        "door_ids": [str(door_id) for door_id in form.getlist("door_ids")],
        "windows": windows,
        "may_share": form.get("may_share") == "on",
        "provides_doorcodes": form.get("provides_doorcodes") == "on",
    }


def _errors(error: ValidationError, values: dict[str, Any]) -> Errors:
    """The schema's messages by form field; a window's message names its weekday."""
    found: Errors = {}
    for problem in error.errors():
        where = problem["loc"]
        field = FIELDS.get(str(where[0]), "form") if where else "form"
        message = problem["msg"]
        if field == "schedule" and len(where) > 1 and isinstance(where[1], int):
            weekday = values["windows"][where[1]]["weekday"]
            message = f"{WEEKDAYS[weekday]}: {message} (times as HH:MM)"
        found.setdefault(field, []).append(message)
    return found


def _form_page(
    request: Request,
    viewer: Viewer,
    choices: KeyForm,
    values: dict[str, Any],
    errors: Errors | None = None,
) -> HTMLResponse:
    by_day: dict[int, list[dict[str, Any]]] = {}
    for window in values["windows"]:
        by_day.setdefault(window["weekday"], []).append(window)
    return render(
        request,
        "keys/form.html",
        viewer=viewer,
        title=f"Change {choices.key.name}" if choices.key is not None else "New key",
        choices=choices,
        values=values,
        by_day=by_day,
        errors=errors or {},
        status_code=422 if errors else 200,
        **_words(viewer),
    )


def _values_of(choices: KeyForm) -> dict[str, Any]:
    key = choices.key
    if key is None:
        return {"name": "", "door_ids": [], "windows": [], "may_share": False}
    return {
        "name": key.name,
        "door_ids": [door.id for door in key.doors],
        "windows": [window.model_dump() for window in key.windows],
        "may_share": key.may_share,
        "provides_doorcodes": key.provides_doorcodes,
    }


@router.get("/keys/new", response_class=HTMLResponse)
def new_key_form(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_MANAGE)],
    db: Db,
) -> HTMLResponse:
    choices = key_form(session=db, property_id=property_id)
    return _form_page(request, viewer, choices, _values_of(choices))


@router.post("/keys/new", response_class=HTMLResponse)
async def create_key(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_MANAGE)],
    db: Db,
) -> Response:
    """Create the key with the API's schema; the form again with its messages if refused."""
    values = _form_values(await request.form())
    try:
        body = KeyCreate(**values)
    except ValidationError as error:
        choices = key_form(session=db, property_id=property_id)
        return _form_page(request, viewer, choices, values, _errors(error, values))
    key = key_service.create_key(
        session=db,
        property_id=property_id,
        name=body.name,
        door_ids=body.door_ids,
        windows=body.windows,
        may_share=body.may_share,
        provides_doorcodes=body.provides_doorcodes,
    )
    db.commit()
    return RedirectResponse(f"{_keys_url(property_id, key.id)}?done=created", status_code=303)


@router.get("/keys/{key_id}/edit", response_class=HTMLResponse)
def edit_key_form(
    request: Request,
    property_id: str,
    key_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_MANAGE)],
    db: Db,
) -> HTMLResponse:
    choices = key_form(session=db, property_id=property_id, key_id=key_id)
    return _form_page(request, viewer, choices, _values_of(choices))


@router.post("/keys/{key_id}/edit", response_class=HTMLResponse)
async def update_key(
    request: Request,
    property_id: str,
    key_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_MANAGE)],
    db: Db,
) -> Response:
    """Change the key with the API's schema (every field given, so an emptied schedule is
    "any time"); the form again with its messages if refused."""
    values = _form_values(await request.form())
    try:
        changes = KeyUpdate(**values)
    except ValidationError as error:
        choices = key_form(session=db, property_id=property_id, key_id=key_id)
        return _form_page(request, viewer, choices, values, _errors(error, values))
    key_service.update_key(session=db, property_id=property_id, key_id=key_id, changes=changes)
    db.commit()
    return RedirectResponse(f"{_keys_url(property_id, key_id)}?done=changed", status_code=303)


# One key and its grants ---------------------------------------------------------------------


@router.get("/keys/{key_id}", response_class=HTMLResponse)
def key_detail(
    request: Request,
    property_id: str,
    key_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_READ)],
    db: Db,
    done: str | None = None,
) -> HTMLResponse:
    """The key, everyone it was given to, and how far its last change has reached the locks."""
    shown = key_page(session=db, property_id=property_id, key_id=key_id, now=viewer.now)
    return render(
        request,
        "keys/detail.html",
        viewer=viewer,
        title=shown.key.name,
        shown=shown,
        done=DONE.get(done or ""),
        just_changed=done in {"given", "revoked"},
        **_words(viewer),
    )


def _instant(text: str, zone: ZoneInfo) -> str | None:
    """A datetime-local field ("2026-03-02T09:00") in the property's zone, as ISO 8601; the
    text as typed when it is no date, for the schema to refuse with its message."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    local = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    return local.isoformat()


@router.post("/keys/{key_id}/grants", response_class=HTMLResponse)
async def give_key(
    request: Request,
    property_id: str,
    key_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_GRANT)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Give the key to a person of this property; back to the key with the locks' progress."""
    form = await request.form()
    try:
        body = GrantCreate(
            person_id=str(form.get("person_id") or ""),
            starts_at=_instant(str(form.get("starts_at") or ""), viewer.zone),
            ends_at=_instant(str(form.get("ends_at") or ""), viewer.zone),
            resident=form.get("resident") == "on",
        )
    except ValidationError as error:
        shown = key_page(session=db, property_id=property_id, key_id=key_id, now=viewer.now)
        messages = [
            f"{GRANT_FIELDS.get(str(p['loc'][0]) if p['loc'] else '', 'Form')}: {p['msg']}"
            for p in error.errors()
        ]
        return render(
            request,
            "keys/detail.html",
            viewer=viewer,
            title=shown.key.name,
            shown=shown,
            grant_errors=messages,
            status_code=422,
            **_words(viewer),
        )
    key_service.give_key(
        session=db,
        master_key=master_key,
        property_id=property_id,
        key_id=key_id,
        person_id=body.person_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        resident=body.resident,
        created_by=viewer.principal.person_id,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(f"{_keys_url(property_id, key_id)}?done=given", status_code=303)


@router.post("/keys/{key_id}/grants/{grant_id}/revoke", response_class=HTMLResponse)
def revoke_grant(
    property_id: str,
    key_id: str,
    grant_id: str,
    viewer: Annotated[Viewer, page(Action.KEYS_GRANT)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Revoke a grant; back to the key, which shows which locks have dropped it."""
    key_service.revoke_grant(
        session=db,
        master_key=master_key,
        property_id=property_id,
        key_id=key_id,
        grant_id=grant_id,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(f"{_keys_url(property_id, key_id)}?done=revoked", status_code=303)
