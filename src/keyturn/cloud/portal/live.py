"""Live regions of the portal's pages: fragments that answer 304 while nothing changed.

A region's ETag is made from the property's change marker (alerts.service.change_marker), who
asks, what they asked and the minute (the "5 minutes ago" words age), so polling a region that
did not change costs a few indexed maxima and no read of its rows (and no audited read).
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response

from keyturn.cloud.web.gate import Viewer


def region_etag(viewer: Viewer, marker: str, request: Request) -> str:
    """The region's ETag (quoted, as HTTP wants it)."""
    minute = viewer.now.replace(second=0, microsecond=0).isoformat()
    text = "|".join(
        (marker, viewer.principal.person_id, request.url.path, request.url.query, minute)
    )
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def unchanged(request: Request, etag: str) -> Response | None:
    """304 Not Modified when the browser's copy has this ETag, else None."""
    sent = request.headers.get("if-none-match", "")
    if etag in {tag.strip() for tag in sent.split(",")}:
        return Response(status_code=304, headers=live_headers(etag))
    return None


def live_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": "no-cache"}
