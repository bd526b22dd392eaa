"""The FastAPI application factory for the Keyturn cloud service.

Routes stay thin; each domain's views call its service module. Until the API issue lands
the application serves its health check and its OpenAPI description.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from keyturn import __version__
from keyturn.cloud.db import make_engine
from keyturn.settings import Settings

PROBLEM_BASE = "https://keyturn.invalid/problems/"


class Health(BaseModel):
    status: str
    version: str
    database: str


def problem(status: int, kind: str, title: str, detail: str | None = None) -> JSONResponse:
    """An RFC 9457 problem response with a stable `type`."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the application around one engine; the caller owns the engine's lifetime."""
    db = engine if engine is not None else make_engine(settings.resolved_database_url)
    app = FastAPI(title="Keyturn", version=__version__, openapi_url="/api/v1/openapi.json")
    app.state.engine = db

    @app.get("/api/v1/health", response_model=Health, tags=["service"])
    def health() -> Health | JSONResponse:
        """Liveness and database reachability; needs no login and reveals nothing private."""
        try:
            with db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return problem(503, "database-unavailable", "The database cannot be reached")
        return Health(status="ok", version=__version__, database=db.dialect.name)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem(404, "not-found", "No such resource", str(request.url.path))

    return app
