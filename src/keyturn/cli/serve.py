"""`keyturn serve`: run the API server in the foreground.

The schema is migrated first so a fresh data dir just works. A database nobody has set up
(no portfolio, no account) is still served, with one line on stderr saying to run
`keyturn setup`: the operator may run it from another terminal while this one serves.
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from keyturn.cli.context import console, err_console, settings
from keyturn.cli.setup import is_empty
from keyturn.cloud import db as database
from keyturn.cloud.app import create_app
from keyturn.cloud.sessions import session_factory


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
) -> None:
    """Run the Keyturn API server until interrupted."""
    config = settings()
    config.ensure_data_dir()
    database.upgrade(config.resolved_database_url, "head")
    database.require_current_schema(
        config.resolved_database_url, "recreate it, or migrate it by hand to match"
    )
    engine = database.make_engine(config.resolved_database_url)
    try:
        with session_factory(engine)() as session:
            if is_empty(session):
                err_console.print(
                    "no portfolio or account yet: run `keyturn setup` to create the first "
                    "operator, portfolio and property",
                    highlight=False,
                    soft_wrap=True,
                )
    finally:
        engine.dispose()
    console.print(f"serving on http://{host}:{port}/ (API docs at /docs)")
    # Forwarded headers are the app's to judge (KEYTURN_TRUSTED_PROXIES), not uvicorn's.
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", proxy_headers=False)
