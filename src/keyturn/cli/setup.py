"""`keyturn setup`: the first operator account, portfolio and property of a fresh install.

Interactive by default; with `--no-input` every answer comes from options (the password from
`--password-file` or KEYTURN_SETUP_PASSWORD) and anything missing fails with one line and
exit status 2. The operator gets a password and a TOTP factor, whose secret is printed once
and never logged. A database that already has a portfolio or an account is refused unless
`--another` says to add one more portfolio, property and operator beside what is there.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cli.context import console, settings
from keyturn.cloud import db as database
from keyturn.cloud.auth import totp
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.service import enable_totp_at_setup, open_account
from keyturn.cloud.models import Account, Portfolio
from keyturn.cloud.people import service as people
from keyturn.cloud.properties.schemas import PropertyCreate
from keyturn.cloud.properties.service import create_portfolio, create_property
from keyturn.cloud.sessions import session_factory
from keyturn.errors import UserError
from keyturn.rules.types import Role

PASSWORD_ENV = "KEYTURN_SETUP_PASSWORD"  # noqa: S105 - the variable's name
MIN_PASSWORD = 10  # as for any new password (auth.schemas.NewPassword)
MAX_PASSWORD = 256
CODE_TRIES = 3


@dataclass(frozen=True)
class Answers:
    email: str
    name: str
    password: str = field(repr=False)
    portfolio: str
    property: str
    time_zone: str
    jurisdiction: str


def is_empty(session: Session) -> bool:
    """Whether nobody has set this database up yet: no portfolio and no account."""
    return (
        session.scalar(select(Portfolio.id).limit(1)) is None
        and session.scalar(select(Account.id).limit(1)) is None
    )


def setup(
    email: Annotated[str | None, typer.Option(help="The operator's email (their login).")] = None,
    name: Annotated[str | None, typer.Option(help="The operator's full name.")] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            help=f"File holding the password (else env {PASSWORD_ENV}, else a hidden prompt).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    portfolio: Annotated[str | None, typer.Option(help="Name of the portfolio.")] = None,
    property_name: Annotated[
        str | None, typer.Option("--property", help="Name of the first property.")
    ] = None,
    time_zone: Annotated[
        str | None, typer.Option(help="The property's IANA time zone, e.g. America/New_York.")
    ] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option(help="The property's jurisdiction: 'default' or a code like US-NY-NYC."),
    ] = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt; fail on anything missing.")
    ] = False,
    another: Annotated[
        bool,
        typer.Option(
            "--another",
            help="The database is set up already: add one more portfolio, property and "
            "operator beside what is there (nothing existing changes).",
        ),
    ] = False,
) -> None:
    """Create the first operator account (password + TOTP), portfolio and property."""
    config = settings()
    config.ensure_data_dir()
    url = config.resolved_database_url
    database.upgrade(url, "head")
    database.require_current_schema(url, "recreate it, or migrate it by hand to match")
    interactive = not no_input and _stdin_is_terminal()
    engine = database.make_engine(url)
    try:
        factory = session_factory(engine)
        with factory() as session:
            if not is_empty(session) and not another:
                raise UserError(
                    "this database is set up already (it has a portfolio or an account); "
                    "log in instead, or run `keyturn setup --another` to add one more "
                    "portfolio, property and operator"
                )
        answers = _answers(
            interactive,
            email,
            name,
            password_file,
            portfolio,
            property_name,
            time_zone,
            jurisdiction,
        )
        now = datetime.now(UTC)
        with factory() as session, session.begin():
            secret, uri, property_id = _create(session, config.master_key_bytes(), answers, now)
            # The secret is shown once, below; only its sealed form is stored.
            console.print(
                f"[bold]created[/] operator {answers.email}, portfolio {answers.portfolio!r}, "
                f"property {answers.property!r} ({answers.time_zone}, {answers.jurisdiction}), "
                f"property id {property_id}",
                highlight=False,
            )
            console.print(
                "TOTP (shown once; add it to an authenticator app now, it is needed to log in):",
                highlight=False,
            )
            console.print(f"  secret {totp.base32(secret)}", highlight=False, markup=False)
            console.print(f"  uri    {uri}", highlight=False, markup=False, soft_wrap=True)
            if interactive:
                _confirm_code(secret)
        console.print("next: `keyturn serve`, then log in with your email, password and code")
    finally:
        engine.dispose()


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _create(
    session: Session, master_key: bytes, answers: Answers, now: datetime
) -> tuple[bytes, str, str]:
    """The operator, portfolio and property, through the services; the TOTP secret and URI."""
    portfolio = create_portfolio(session=session, name=answers.portfolio)
    prop = create_property(
        session=session,
        master_key=master_key,
        portfolio_id=portfolio.id,
        settings=PropertyCreate(
            name=answers.property, time_zone=answers.time_zone, jurisdiction=answers.jurisdiction
        ),
    )
    person = people.add_person(
        session=session, display_name=answers.name, email=answers.email, now=now
    )
    people.add_role(
        session=session,
        property_id=prop.id,
        person_id=person.id,
        role=Role.PORTFOLIO_MANAGER,
        unit_id=None,
        by=None,
    )
    account = open_account(session=session, person_id=person.id, password=answers.password, now=now)
    enrolment = enable_totp_at_setup(
        session=session, config=AuthConfig(), master_key=master_key, account=account, now=now
    )
    return enrolment.secret, enrolment.uri, prop.id


def _confirm_code(secret: bytes) -> None:
    """Ask for one code so a mistyped secret shows now, not at the first login."""
    for _ in range(CODE_TRIES):
        code = typer.prompt("current code from the authenticator").strip()
        if totp.matching_step(secret, code, datetime.now(UTC), None) is not None:
            return
        console.print("that code does not match; check the secret and try again")
    raise UserError("no matching TOTP code; nothing was created, run `keyturn setup` again")


def _answers(
    interactive: bool,
    email: str | None,
    name: str | None,
    password_file: Path | None,
    portfolio: str | None,
    property_name: str | None,
    time_zone: str | None,
    jurisdiction: str | None,
) -> Answers:
    def ask(value: str | None, option: str, question: str, default: str | None = None) -> str:
        if value is None and interactive:
            value = typer.prompt(question, default=default)
        if value is None:
            value = default
        if value is None or not value.strip():
            raise UserError(f"{option} is required with --no-input (or when stdin is no terminal)")
        return value.strip()

    answers = Answers(
        email=ask(email, "--email", "operator email"),
        name=ask(name, "--name", "operator full name"),
        password=_password(interactive, password_file),
        portfolio=ask(portfolio, "--portfolio", "portfolio name"),
        property=ask(property_name, "--property", "property name"),
        time_zone=_zone(ask(time_zone, "--time-zone", "time zone (IANA, e.g. America/New_York)")),
        jurisdiction=ask(jurisdiction, "--jurisdiction", "jurisdiction", default="default"),
    )
    return answers


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(
            f"--time-zone: {value!r} is not an IANA time zone such as 'America/New_York'"
        ) from None
    return value


def _password(interactive: bool, password_file: Path | None) -> str:
    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
        source = "--password-file"
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
        source = PASSWORD_ENV
    elif interactive:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        source = "password"
    else:
        raise UserError(
            f"a password is required with --no-input: --password-file or {PASSWORD_ENV}"
        )
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"{source}: the password must be {MIN_PASSWORD} to {MAX_PASSWORD} long")
    return password
