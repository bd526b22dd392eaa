"""The portal's first pages: the caller's properties, and one property at a glance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keyturn.cloud.auth.deps import Db, public_route
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.portal.templating import SIGN_IN_PATH, render
from keyturn.cloud.properties.overview import properties_listed, property_overview
from keyturn.cloud.web.gate import Viewer, page
from keyturn.cloud.web.homes import PORTAL_HOME, home_of

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, viewer: Annotated[Viewer, page(Action.ACCOUNT_READ)], db: Db
) -> Response:
    """Every property the caller manages; someone who manages none has the app instead."""
    own = home_of(session=db, person_id=viewer.principal.person_id)
    if own != PORTAL_HOME:
        return RedirectResponse(own, status_code=303)
    listed = properties_listed(session=db, person_id=viewer.principal.person_id)
    return render(request, "home.html", viewer=viewer, title="Your properties", properties=listed)


@router.get("/properties/{property_id}", response_class=HTMLResponse)
def overview(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PROPERTY_READ)],
    db: Db,
) -> HTMLResponse:
    """The property at a glance: doors, locks' health, lockdown."""
    shown = property_overview(
        session=db,
        property_id=property_id,
        now=viewer.now,
        with_locks=viewer.can(Action.DEVICES_READ),
    )
    return render(request, "overview.html", viewer=viewer, title=shown.name, overview=shown)


root = APIRouter(include_in_schema=False)


@root.get("/", dependencies=[public_route("only sends the browser to sign in")])
def front_door() -> RedirectResponse:
    """To sign in, which sends someone already signed in on to their own front end."""
    return RedirectResponse(SIGN_IN_PATH, status_code=303)
