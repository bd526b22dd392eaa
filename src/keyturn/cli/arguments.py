"""What commands are told, read one way everywhere: an instant (with its offset, never
guessed) and a property (by id or by its exact name).

Each failure is a UserError, so the command prints one line and exits with status 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cli.context import settings
from keyturn.cloud import db as database
from keyturn.cloud import sessions
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.models import Property
from keyturn.cloud.privacy import audit
from keyturn.cloud.properties.service import property_by_reference
from keyturn.errors import UserError

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="ISO",
        help=(
            "Act as if it were this instant, e.g. 2027-03-01T00:00:00Z (an offset is "
            "required): for dry runs and drills that show what happens on a given day."
        ),
    ),
]


def instant(text: str, option: str = "--now") -> datetime:
    """An ISO 8601 instant with its offset; a naive or malformed one is refused."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"{option}: {text!r} is not an ISO 8601 instant, e.g. 2027-03-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise UserError(
            f"{option}: {text!r} has no time zone; add Z or an offset, e.g. 2027-03-01T00:00:00Z"
        )
    return moment


def now_or_clock(text: str | None) -> datetime:
    """The instant of `--now`, or the clock's when it was not given."""
    return database.utcnow() if text is None else instant(text)


@contextmanager
def migrated_sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, refused while it has no schema yet."""
    url = settings().resolved_database_url
    if database.current_revision(url) is None:
        raise UserError(f"{database.masked(url)} has no schema yet: run `keyturn db upgrade`")
    engine = database.make_engine(url)
    factory = sessions.session_factory(engine)
    # Everything a command records with no person behind it is the operator's act.
    factory.configure(info={audit.OPERATOR_SESSION: True})
    try:
        yield factory
    finally:
        engine.dispose()


@contextmanager
def migrated_session() -> Iterator[Session]:
    """One session on the configured database, refused while it has no schema yet."""
    with migrated_sessions() as factory, factory() as session:
        yield session


def find_property(session: Session, named: str) -> Property:
    """The property with this id, or else the one with exactly this name."""
    try:
        return property_by_reference(session, named)
    except NotFound as refusal:
        raise UserError(refusal.detail or refusal.title) from None
