"""When can I get in? A guest's (or resident's) own access at one property: when each key is
valid, who gave it, and whether each door would open right now, as its lock would decide."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from keyturn.cloud.access.explain.my_doors import my_doors_now
from keyturn.cloud.app_web.templating import APP_PREFIX, render
from keyturn.cloud.auth.deps import Db, MasterKey
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix=APP_PREFIX + "/properties/{property_id}", include_in_schema=False)


@router.get("/access", response_class=HTMLResponse)
def access(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PROPERTY_READ)],
    db: Db,
    master_key: MasterKey,
) -> HTMLResponse:
    """Each key the person holds here, and each of its doors now."""
    mine = my_doors_now(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=viewer.principal.person_id,
        now=viewer.now,
    )
    return render(request, "access/mine.html", viewer=viewer, title="When can I get in?", mine=mine)
