"""`keyturn db`: create and migrate the database schema.

Migrations are Alembic revisions bundled with the package, so no alembic.ini is needed.
"""

from __future__ import annotations

import typer

from keyturn.cli.context import console, settings
from keyturn.cloud import db as database

app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    config = settings()
    config.ensure_data_dir()
    url = config.resolved_database_url
    database.upgrade(url, revision)
    console.print(f"database at {database.masked(url)} is at {database.current_revision(url)}")


@app.command()
def current() -> None:
    """Show the revision the database is at."""
    url = settings().resolved_database_url
    console.print(database.current_revision(url) or "empty (run `keyturn db upgrade`)")
