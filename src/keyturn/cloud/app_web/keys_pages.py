"""A resident's home in the app: their keys (doors, hours, validity) and personal doorcodes.

Doorcodes are kept only as MACs, so a code cannot be shown again: "Reset my doorcode" issues
a new one for the person's own residence door after they type their password again, and
shows it once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from keyturn.cloud.access.credentials.service import reset_own_doorcode_confirmed
from keyturn.cloud.access.keys.mine import my_access
from keyturn.cloud.app_web.templating import render
from keyturn.cloud.auth.deps import Config, Db, MasterKey, client_address
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.models import Door
from keyturn.cloud.web.formatting import schedule_words
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/app/properties/{property_id}", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def my_home(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PROPERTY_READ)],
    db: Db,
) -> HTMLResponse:
    """My keys and my doorcodes here, in the property's time."""
    mine = my_access(
        session=db, property_id=property_id, person_id=viewer.principal.person_id, now=viewer.now
    )
    return render(
        request,
        "home/page.html",
        viewer=viewer,
        title="My home",
        mine=mine,
        schedule_words=schedule_words,
    )


@router.post("/doorcodes/reset", response_class=HTMLResponse)
def reset_my_doorcode(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.CREDENTIALS_SELF)],
    db: Db,
    config: Config,
    master_key: MasterKey,
    door_id: Annotated[str, Form(max_length=36)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> HTMLResponse:
    """A new code for my own residence door, once my password is right; shown once."""
    issued = reset_own_doorcode_confirmed(
        session=db,
        config=config,
        master_key=master_key,
        property_id=property_id,
        person_id=viewer.principal.person_id,
        account_id=viewer.principal.account_id,
        password=password,
        door_id=door_id,
        address=client_address(request),
        now=viewer.now,
    )
    db.commit()
    return render(
        request,
        "home/doorcode_reset.html",
        viewer=viewer,
        title="Your new doorcode",
        code=issued.code,
        door_name=db.get_one(Door, issued.door_id).name,
        headers={"Cache-Control": "no-store"},
    )
