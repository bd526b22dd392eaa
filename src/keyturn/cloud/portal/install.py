"""Adding the portal to the app: its pages, its static files and its answers to refusals."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from keyturn.cloud.portal import (
    account_pages,
    alerts_pages,
    credential_pages,
    device_pages,
    guest_pages,
    history_pages,
    key_pages,
    link_pages,
    overview_pages,
    people_pages,
    privacy_pages,
    sign_in_pages,
)
from keyturn.cloud.portal.templating import STATIC_DIR, STATIC_PATH

# A request is matched against the routes in order (a page skips the API's at once, see
# api_routes.py), and no two of these routers share a path: the pages with live regions,
# polled every few seconds by each open page, come first.
PAGE_ROUTERS = (
    history_pages.router,
    alerts_pages.router,
    sign_in_pages.router,
    overview_pages.router,
    overview_pages.root,
    people_pages.router,
    credential_pages.router,
    guest_pages.router,
    device_pages.router,
    key_pages.router,
    privacy_pages.router,
    account_pages.router,
    link_pages.router,
)


def install_portal(app: FastAPI) -> None:
    """Include every page router and the static files (the app factory installs the answers)."""
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="portal-static")
