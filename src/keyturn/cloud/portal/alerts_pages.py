"""The alerts page and the overview's live region (open alerts and the doors table).

Both regions answer 304 while the property's change marker, the caller and the minute are
the same (portal.live), so polling them reads no rows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from keyturn.cloud.alerts.service import change_marker, open_alerts
from keyturn.cloud.auth.deps import Db
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.portal.live import live_headers, region_etag, unchanged
from keyturn.cloud.portal.templating import render
from keyturn.cloud.properties.overview import property_overview
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/portal/properties/{property_id}", include_in_schema=False)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.DEVICES_READ)],
    db: Db,
) -> HTMLResponse:
    """The property's open alerts, newest first."""
    alerts = open_alerts(session=db, property_id=property_id, now=viewer.now)
    return render(request, "alerts/list.html", viewer=viewer, title="Alerts", alerts=alerts)


@router.get("/alerts/live", response_class=HTMLResponse)
def alerts_live(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.DEVICES_READ)],
    db: Db,
) -> Response:
    """The alerts table alone, or 304 while nothing changed."""
    etag = region_etag(viewer, change_marker(session=db, property_id=property_id), request)
    if (same := unchanged(request, etag)) is not None:
        return same
    alerts = open_alerts(session=db, property_id=property_id, now=viewer.now)
    return render(
        request,
        "alerts/_table.html",
        viewer=viewer,
        title="Alerts",
        alerts=alerts,
        headers=live_headers(etag),
    )


@router.get("/live/overview", response_class=HTMLResponse)
def overview_live(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.PROPERTY_READ)],
    db: Db,
) -> Response:
    """The overview's alerts and doors table, or 304 while nothing changed."""
    etag = region_etag(viewer, change_marker(session=db, property_id=property_id), request)
    if (same := unchanged(request, etag)) is not None:
        return same
    shown = property_overview(
        session=db,
        property_id=property_id,
        now=viewer.now,
        with_locks=viewer.can(Action.DEVICES_READ),
    )
    return render(
        request,
        "_overview_live.html",
        viewer=viewer,
        title=shown.name,
        overview=shown,
        headers=live_headers(etag),
    )
