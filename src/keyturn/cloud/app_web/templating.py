"""The app's pages: its templates and static files (what every page gets is `web.templating`'s)."""

from __future__ import annotations

from pathlib import Path

from keyturn.cloud.web.answers import FrontEnd
from keyturn.cloud.web.templating import Pages

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/app/static"
APP_PREFIX = "/app"
# One sign-in page serves both front ends; it sends the person back to the app afterwards.
SIGN_IN_PATH = "/portal/sign-in"
PAGES = Pages(templates=HERE / "templates", static_path=STATIC_PATH)
render = PAGES.render
APP = FrontEnd(prefix=APP_PREFIX, sign_in_path=SIGN_IN_PATH, pages=PAGES)
