"""The browser as the resident's phone key: the doors page, its service worker and the app's
manifest.

The page is a shell: static/phone.js makes the key pair, enrols its public key and fetches
mobile keys through the API (the same routes and check, CREDENTIALS_SELF), and talks to the
locks' near-field services (docs/near-field.md); /app/sw.js keeps the shell for offline use.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from keyturn.cloud.app_web.templating import APP_PREFIX, STATIC_DIR, STATIC_PATH, render
from keyturn.cloud.auth.deps import public_route
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix=APP_PREFIX, include_in_schema=False)

MANIFEST = {
    "name": "Keyturn",
    "short_name": "Keyturn",
    "description": "Your doors and your phone key.",
    "start_url": f"{APP_PREFIX}/",
    "scope": f"{APP_PREFIX}/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#1d4f91",
    "icons": [
        {"src": f"{STATIC_PATH}/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": f"{STATIC_PATH}/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {"src": f"{STATIC_PATH}/icon.svg", "sizes": "any", "type": "image/svg+xml"},
    ],
}


@router.get("/properties/{property_id}/phone", response_class=HTMLResponse)
def phone(
    request: Request, viewer: Annotated[Viewer, page(Action.CREDENTIALS_SELF)]
) -> HTMLResponse:
    """This browser as the person's phone key, and a button per door its keys open."""
    return render(request, "phone.html", viewer=viewer, title="Your doors")


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


@router.get(
    "/manifest.webmanifest",
    dependencies=[public_route("the web app manifest names the app; it holds nothing private")],
)
def manifest() -> JSONResponse:
    return JSONResponse(MANIFEST, media_type="application/manifest+json")
