"""The FastAPI application factory for the Keyturn cloud service.

Routes stay thin; each domain's views call its service module. Until the API issue lands
the application serves its health check and its OpenAPI description.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.engine import Engine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from keyturn import __version__
from keyturn.cloud.api_docs import install_api_docs
from keyturn.cloud.api_routes import api_routers
from keyturn.cloud.app_web.install import install_app_web
from keyturn.cloud.app_web.templating import APP
from keyturn.cloud.auth.deps import public_route
from keyturn.cloud.auth.http import install_auth
from keyturn.cloud.body_limits import BodyLimit
from keyturn.cloud.capacity import ConnectionBudget
from keyturn.cloud.db import make_engine
from keyturn.cloud.errors import Refusal
from keyturn.cloud.inputs import refuse_nul_characters
from keyturn.cloud.jobs import background_jobs
from keyturn.cloud.openapi import complete_openapi
from keyturn.cloud.page_headers import PageHeaders
from keyturn.cloud.portal.install import install_portal
from keyturn.cloud.portal.templating import PORTAL
from keyturn.cloud.problems import answer_refusal, problem, problem_responses
from keyturn.cloud.refusals import install_refusals
from keyturn.cloud.retries import install_retries
from keyturn.cloud.web.answers import install_answers
from keyturn.settings import Settings


class Health(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "version": "0.1.0", "database": "sqlite"}]}
    )

    status: str
    version: str
    database: str


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the application around one engine; the caller owns the engine's lifetime."""
    db = engine if engine is not None else make_engine(settings.resolved_database_url)
    app = FastAPI(
        title="Keyturn",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served by api_docs, from this service rather than a CDN
        redoc_url=None,
        lifespan=background_jobs,
        dependencies=[Depends(refuse_nul_characters)],
    )
    app.state.engine = db
    # Short SQLite work costs less than a worker-thread hop (Gate.run); a server's doesn't.
    app.state.db_work_on_loop = db.dialect.name == "sqlite"
    app.state.settings = settings
    app.include_router(api_routers())
    install_auth(app)
    install_api_docs(app)
    install_portal(app)
    install_app_web(app)
    # Every refusal of the cloud's own services, in one problem shape (errors.py).
    app.add_exception_handler(Refusal, answer_refusal)  # type: ignore[arg-type]
    install_refusals(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(PageHeaders)
    if settings.trusted_proxy_list:
        # The client's address (throttling, audit) comes from X-Forwarded-For only when the
        # direct peer is a configured proxy; servers are started with their own handling off.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    # Outermost last: a request waits for a connection budget, and gives it back between retries.
    app.add_middleware(ConnectionBudget, engine=db)
    install_retries(app)
    complete_openapi(app)

    @app.get(
        "/api/v1/health",
        response_model=Health,
        tags=["service"],
        responses=problem_responses(503),
        dependencies=[public_route("liveness only; reveals nothing private")],
    )
    def health() -> Health:
        """Liveness and database reachability; needs no login and reveals nothing private.

        An unreachable database raises, and the app-wide handler answers 503 (refusals.py).
        """
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return Health(status="ok", version=__version__, database=db.dialect.name)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem(404, "not-found", "No such resource", str(request.url.path))

    # Last, over every handler: refusals on a front end's paths are answered as its pages.
    install_answers(app, [PORTAL, APP])
    return app
