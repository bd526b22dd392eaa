"""The browser as the resident's phone key: the doors page and its service worker (the app's
manifest is manifest_pages').

The page is a shell: static/phone.js makes the key pair, enrols its public key and fetches
mobile keys through the API (the same routes and check, CREDENTIALS_SELF), and talks to the
locks' near-field services (docs/near-field.md); /app/sw.js keeps the shell for offline use.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from keyturn.cloud.app_web.templating import APP_PREFIX, STATIC_DIR, render
from keyturn.cloud.auth.deps import Db, public_route
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix=APP_PREFIX, include_in_schema=False)


@router.get("/properties/{property_id}/phone", response_class=HTMLResponse)
def phone(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.CREDENTIALS_SELF)],
    db: Db,
) -> HTMLResponse:
    """This browser as the person's phone key, and a button per door its keys open; where the
    building needs a consent the person has not given (R5, R7), the way to give it first."""
    here = consent.own_consent_at(
        session=db, person_id=viewer.principal.person_id, property_id=property_id
    )
    return render(
        request, "phone.html", viewer=viewer, title="Your doors", consent_missing=here.state.missing
    )


@router.get(
    "/sw.js",
    dependencies=[public_route("the service worker is a static script, like the app's files")],
)
def service_worker() -> FileResponse:
    """The service worker, served here so that its scope is the whole app (/app/)."""
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": f"{APP_PREFIX}/"},
    )
