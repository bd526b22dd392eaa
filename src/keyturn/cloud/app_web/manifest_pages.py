"""The app's web app manifest: what a phone needs to install the app on its home screen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from keyturn.cloud.app_web.templating import APP_PREFIX, STATIC_PATH
from keyturn.cloud.auth.deps import public_route

router = APIRouter(prefix=APP_PREFIX, include_in_schema=False)
MANIFEST_PATH = APP_PREFIX + "/manifest.webmanifest"
THEME_COLOUR = "#1d4f91"  # the app's brand colour (app.css --brand), also base.html's theme-color
ICONS = "/".join((STATIC_PATH, "icons"))
MANIFEST: dict[str, Any] = {
    "name": "Keyturn",
    "short_name": "Keyturn",
    "description": "Your doors, your guests and your building's history.",
    "id": APP_PREFIX + "/",
    "start_url": APP_PREFIX + "/",
    "scope": APP_PREFIX + "/",
    "display": "standalone",
    "orientation": "portrait",
    "theme_color": THEME_COLOUR,
    "background_color": "#f3f5f8",
    "icons": [
        {"src": f"{ICONS}/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": f"{ICONS}/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {
            "src": f"{ICONS}/icon-maskable-512.png",
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ],
}


@router.get(
    "/manifest.webmanifest",
    dependencies=[public_route("the install manifest names the app and its icons, nothing more")],
)
def manifest() -> JSONResponse:
    """The manifest a browser reads to install the app."""
    return JSONResponse(
        MANIFEST,
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )
