"""The portal's pages: its templates and static files, and the property's sections on every
page (the rest of what a page gets is `web.templating`'s)."""

from __future__ import annotations

from pathlib import Path

from keyturn.cloud.portal.navigation import sections_for
from keyturn.cloud.web.answers import FrontEnd
from keyturn.cloud.web.templating import Pages

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/portal/static"
PORTAL_PREFIX = "/portal"
SIGN_IN_PATH = "/portal/sign-in"
PAGES = Pages(
    templates=HERE / "templates",
    static_path=STATIC_PATH,
    context=lambda viewer: {"sections": sections_for(viewer)},
)
TEMPLATES = PAGES.templates
render = PAGES.render
PORTAL = FrontEnd(prefix=PORTAL_PREFIX, sign_in_path=SIGN_IN_PATH, pages=PAGES)
