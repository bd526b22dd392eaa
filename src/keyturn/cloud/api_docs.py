"""The API's interactive reference at /docs, served entirely from this service.

Swagger UI 5 (the first to read OpenAPI 3.1, which FastAPI writes) comes from the
`swagger-ui-py` package (installed from PyPI with the project) and is served at
/static/swagger-ui; its start-up script is a file of ours, so the page
works in a building with no internet and under the strict Content-Security-Policy.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui.utils import SWAGGER_UI_PY_ROOT

from keyturn.cloud.auth.deps import public_route

SWAGGER_PATH = "/static/swagger-ui"
SWAGGER_FILES = SWAGGER_UI_PY_ROOT / "static"
router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keyturn API reference</title>
<link rel="icon" type="image/png" href="{swagger}/favicon-32x32.png">
<link rel="stylesheet" href="{swagger}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui" data-openapi-url="{openapi}"></main>
<script src="{swagger}/swagger-ui-bundle.js"></script>
<script src="/portal/static/api-docs.js"></script>
</body>
</html>
"""


@router.get("/docs", dependencies=[public_route("the API's public reference page")])
def api_reference() -> HTMLResponse:
    return HTMLResponse(_PAGE.format(swagger=SWAGGER_PATH, openapi="/api/v1/openapi.json"))


def install_api_docs(app: FastAPI) -> None:
    """Serve /docs and Swagger UI's files from this service (the app is made with no docs_url)."""
    app.include_router(router)
    app.mount(SWAGGER_PATH, StaticFiles(directory=SWAGGER_FILES), name="swagger-ui")
