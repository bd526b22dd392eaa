"""Adding the app to the service: its pages and its static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from keyturn.cloud.app_web import (
    guest_home_pages,
    history_pages,
    home_pages,
    keys_pages,
    manifest_pages,
    phone_pages,
    privacy_pages,
    sharing_pages,
)
from keyturn.cloud.app_web.templating import STATIC_DIR, STATIC_PATH

PAGE_ROUTERS = (
    home_pages.router,
    keys_pages.router,
    sharing_pages.router,
    history_pages.router,
    privacy_pages.router,
    privacy_pages.public,
    phone_pages.router,
    guest_home_pages.router,
    manifest_pages.router,
)


def install_app_web(app: FastAPI) -> None:
    """Include every page router and the static files (the app factory installs the answers)."""
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="app-static")
