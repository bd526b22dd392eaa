"""My history at a property: the entries the visibility rule lets me see, named, with log
gaps at my doors, a page at a time; and the photo of an entry where P4 lets me see it.

Both read through the history service exactly as the API's routes do (the same query, the
same photo rule, the same audit records).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from keyturn.cloud.app_web.templating import APP_PREFIX, render
from keyturn.cloud.auth.deps import AppSettings, Db, MasterKey, checked_standing
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.history import service as history
from keyturn.cloud.history.shown import history_shown
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix=f"{APP_PREFIX}/properties/{{property_id}}", include_in_schema=False)
ID_MAX = 64
CURSOR_MAX = 512


@router.get("/history", response_class=HTMLResponse)
def my_history(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.HISTORY_READ)],
    db: Db,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX)] = None,
) -> HTMLResponse:
    """Entries at my doors and my own entries, newest first; the read is audited."""
    shown = history_shown(
        session=db,
        principal=viewer.principal,
        property_id=property_id,
        cursor=cursor,
        standing=checked_standing(request, viewer.principal, property_id),
        now=viewer.now,
    )
    db.commit()
    return render(
        request,
        "history/list.html",
        viewer=viewer,
        title="History",
        pid=property_id,
        shown=shown,
        first_page=cursor is None,
    )


@router.get("/history/photos/{event_id}", response_class=Response)
def entry_photo(
    request: Request,
    property_id: str,
    event_id: Annotated[str, PathParam(max_length=ID_MAX)],
    viewer: Annotated[Viewer, page(Action.PHOTOS_READ)],
    db: Db,
    master_key: MasterKey,
    settings: AppSettings,
) -> Response:
    """The photo of one entry, only where P4 lets me see it (404 otherwise); audited."""
    photo, jpeg = history.event_photo(
        session=db,
        principal=viewer.principal,
        event_id=event_id,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        standing=checked_standing(request, viewer.principal, property_id),
        now=viewer.now,
    )
    db.commit()
    return Response(jpeg, media_type=photo.content_type, headers={"Cache-Control": "no-store"})
