"""The portal's doors-and-locks page: every door with its lock's health and lockdown, enrolling
a lock with a one-time token, retiring one, and locking the building or a door down.

Each form posts to a route with the same Action as its API twin; a provisioning token is shown
once, on the page that answers its creation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from keyturn.cloud.auth.deps import Config, Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.devices import service as devices
from keyturn.cloud.devices.listing import devices_shown
from keyturn.cloud.models import Door
from keyturn.cloud.portal.navigation import property_path
from keyturn.cloud.portal.templating import render
from keyturn.cloud.properties import lockdown
from keyturn.cloud.properties.schemas import ProvisioningTokenCreate
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)

DONE = {
    "retired": "The lock is retired: it may no longer sync, and what it never uploaded is "
    "recorded as a log gap.",
    "lockdown-on": "Lockdown started. Each lock applies it at its next sync; see below.",
    "lockdown-off": "Lockdown ended. Each lock opens again for valid credentials at its next "
    "sync; see below.",
    "door-lockdown-on": "The door is locked down from its lock's next sync.",
    "door-lockdown-off": "The door's own lockdown is lifted from its lock's next sync.",
}


def _page_url(property_id: str, done: str | None = None) -> str:
    return property_path(property_id, "/devices") + (f"?done={done}" if done else "")


def _show(
    request: Request,
    viewer: Viewer,
    db: Db,
    master_key: bytes,
    property_id: str,
    *,
    done: str | None = None,
    errors: dict[str, list[str]] | None = None,
) -> HTMLResponse:
    shown = devices_shown(
        session=db, property_id=property_id, now=viewer.now, master_key=master_key
    )
    return render(
        request,
        "devices/page.html",
        viewer=viewer,
        title="Doors and locks",
        shown=shown,
        prop_url=property_path(property_id),
        done=DONE.get(done or ""),
        errors=errors or {},
        status_code=422 if errors else 200,
    )


@router.get("/devices", response_class=HTMLResponse)
def devices_page(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.DEVICES_READ)],
    db: Db,
    master_key: MasterKey,
    done: str | None = None,
) -> HTMLResponse:
    """Every door with its lock's health, and the building's and each door's lockdown."""
    return _show(request, viewer, db, master_key, property_id, done=done)


@router.post("/devices/doors/{door_id}/enrol", response_class=HTMLResponse)
def enrol_lock(
    request: Request,
    property_id: str,
    door_id: str,
    viewer: Annotated[Viewer, page(Action.DEVICES_MANAGE)],
    db: Db,
    config: Config,
    master_key: MasterKey,
    model: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A one-time token that enrols one lock at this door, shown once with its command."""
    try:
        asked = ProvisioningTokenCreate.model_validate({"model": model})
    except ValidationError:
        errors = {door_id: ["Choose the lock's model."]}
        return _show(request, viewer, db, master_key, property_id, errors=errors)
    token = devices.door_provisioning_token(
        session=db, property_id=property_id, door_id=door_id, model=asked.model, now=viewer.now
    )
    db.commit()
    return render(
        request,
        "devices/token_issued.html",
        viewer=viewer,
        title="Enrol a lock",
        door_name=db.get_one(Door, door_id).name,
        model=asked.model,
        token=token,
        expires_at=viewer.now + devices.TOKEN_LIFETIME,
        command=f"keyturn lock provision --cloud {config.public_url} --token {token}",
        back=_page_url(property_id),
    )


@router.post("/devices/locks/{device_id}/retire")
def retire_lock(
    property_id: str,
    device_id: str,
    viewer: Annotated[Viewer, page(Action.DEVICES_MANAGE)],
    db: Db,
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> RedirectResponse:
    """Retire a broken, stolen or replaced lock: it may no longer sync."""
    devices.retire_lock_at(
        session=db, property_id=property_id, device_id=device_id, reason=reason, now=viewer.now
    )
    db.commit()
    return RedirectResponse(_page_url(property_id, "retired"), status_code=303)


@router.post("/devices/lockdown")
def set_property_lockdown(
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PROPERTY_LOCKDOWN)],
    db: Db,
    master_key: MasterKey,
    on: Annotated[bool, Form()],
) -> RedirectResponse:
    """Lock the building down, or end its lockdown, from each lock's next sync."""
    lockdown.set_property_lockdown(
        session=db, master_key=master_key, property_id=property_id, on=on, now=viewer.now
    )
    db.commit()
    return RedirectResponse(
        _page_url(property_id, "lockdown-on" if on else "lockdown-off"), status_code=303
    )


@router.post("/devices/doors/{door_id}/lockdown")
def set_door_lockdown(
    property_id: str,
    door_id: str,
    viewer: Annotated[Viewer, page(Action.PROPERTY_LOCKDOWN)],
    db: Db,
    master_key: MasterKey,
    on: Annotated[bool, Form()],
) -> RedirectResponse:
    """Lock one door down, or lift its own lockdown, from its lock's next sync."""
    lockdown.set_door_lockdown(
        session=db,
        master_key=master_key,
        property_id=property_id,
        door_id=door_id,
        on=on,
        now=viewer.now,
    )
    db.commit()
    return RedirectResponse(
        _page_url(property_id, "door-lockdown-on" if on else "door-lockdown-off"),
        status_code=303,
    )
