"""The app's first page: the person's homes (every property where they have a role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keyturn.cloud.app_web.templating import APP_PREFIX, SIGN_IN_PATH, render
from keyturn.cloud.auth import service
from keyturn.cloud.auth.cookies import clear_session_cookies
from keyturn.cloud.auth.deps import Db, Now
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.properties.overview import properties_listed
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix=APP_PREFIX, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, viewer: Annotated[Viewer, page(Action.ACCOUNT_READ)], db: Db
) -> HTMLResponse:
    """Every property where the person lives, works or is a guest."""
    listed = properties_listed(session=db, person_id=viewer.principal.person_id)
    return render(request, "home.html", viewer=viewer, title="Your homes", properties=listed)


@router.post("/sign-out")
def sign_out(viewer: Annotated[Viewer, page(Action.ACCOUNT_READ)], db: Db, now: Now) -> Response:
    """End this session; the sign-in page brings the person back to the app."""
    service.log_out(session=db, principal=viewer.principal, now=now)
    db.commit()
    answer = RedirectResponse(f"{SIGN_IN_PATH}?next={APP_PREFIX}/", status_code=303)
    clear_session_cookies(answer)
    return answer
