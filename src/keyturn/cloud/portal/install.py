"""Adding the portal to the app: its pages, its static files and its answers to refusals."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from keyturn.cloud.portal import alerts_pages, history_pages, overview_pages, sign_in_pages
from keyturn.cloud.portal.answers import install_answers
from keyturn.cloud.portal.templating import STATIC_DIR, STATIC_PATH

PAGE_ROUTERS = (
    sign_in_pages.router,
    overview_pages.router,
    overview_pages.root,
    history_pages.router,
    alerts_pages.router,
)


def install_portal(app: FastAPI) -> None:
    """Include every page router and the static files; answers go last, over every handler."""
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="portal-static")


def finish_portal(app: FastAPI) -> None:
    """Once every exception handler is installed: answer the portal's paths with pages."""
    install_answers(app)
