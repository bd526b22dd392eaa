"""Entry point of the `keyturn` command and its error handling.

Expected failures (bad settings, an unreachable database, a read-only data dir) print one
line naming the problem and exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from keyturn import __version__
from keyturn.cli import (
    audit,
    bench,
    db,
    demo,
    device,
    dsar,
    explain,
    lock,
    mail,
    managers,
    pms,
    residents,
    retention,
    serve,
    setup,
    simulate,
)
from keyturn.cli.context import err_console, set_data_dir
from keyturn.errors import UserError

EXIT_USER_ERROR = 2

cli = typer.Typer(
    name="keyturn",
    help="Offline-first access control for apartment buildings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
cli.add_typer(db.app, name="db")
cli.add_typer(lock.app, name="lock")
cli.add_typer(device.app, name="device")
cli.add_typer(mail.app, name="mail")
cli.add_typer(retention.app, name="retention")
cli.add_typer(dsar.app, name="dsar")
cli.add_typer(managers.app, name="manager")
cli.add_typer(pms.app, name="pms")
cli.add_typer(residents.app, name="resident")
cli.add_typer(audit.app, name="audit")
cli.command("setup")(setup.setup)
cli.command("serve")(serve.serve)
cli.command("demo")(demo.demo)
cli.command("bench")(bench.bench)
cli.command("simulate")(simulate.simulate_command)
cli.command("explain")(explain.explain_command)
cli.command("access-review")(explain.access_review_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"keyturn {__version__}")
        raise typer.Exit


@cli.callback()
def _global(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where Keyturn keeps its files (env: KEYTURN_DATA_DIR)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    set_data_dir(data_dir)


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_USER_ERROR)


def app() -> None:
    """Run the CLI, turning expected failures into one clear line."""
    try:
        cli(prog_name="keyturn")
    except UserError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _fail(f"database: {reason}")
    except PermissionError as exc:
        _fail(f"permission denied: {exc.filename or exc}")
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
