"""Ready-made API tokens for the demo: a manager's and a resident's, scoped like real ones.

They are minted by the cloud's token service and only their digests are in the database, so
the demo keeps the plaintext in a 0600 file in the data dir to show the same tokens on every
run (a demo convenience; a real client keeps its token in its own secret store).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from keyturn.cloud.auth.errors import Unauthenticated
from keyturn.cloud.auth.permissions import Scope
from keyturn.cloud.auth.service import issue_token, principal_from_token
from keyturn.cloud.models import Account, ApiToken, Person, Profile, Property, RoleMembership
from keyturn.cloud.sessions import session_factory
from keyturn.rules.types import Role

TOKENS_FILE = "demo-tokens.json"
TOKEN_NAME = "keyturn demo"  # noqa: S105 - a label, not a secret
LIFETIME = timedelta(days=30)
# A token this close to its end is replaced rather than shown again.
RENEW_BEFORE = timedelta(days=1)
# The manager may change building data through the API; the resident token only reads.
SCOPES = {Role.PROPERTY_MANAGER: Scope.WRITE, Role.RESIDENT: Scope.READ}


@dataclass(frozen=True, slots=True)
class DemoToken:
    role: str
    email: str
    scope: str
    token: str
    expires_at: str


def ensure_demo_tokens(
    engine: Engine, property_id: str, data_dir: Path, now: datetime
) -> tuple[DemoToken, ...]:
    """The demo's tokens: the saved ones while they still work, else new ones.

    Minting a new token revokes the account's earlier demo tokens, so at most one per role
    is ever live.
    """
    path = data_dir / TOKENS_FILE
    saved = {token.role: token for token in _read(path)}
    tokens: list[DemoToken] = []
    with session_factory(engine)() as session, session.begin():
        for role, scope in SCOPES.items():
            holder = _holder(session, property_id, role)
            if holder is None:
                continue
            person, account = holder
            old = saved.get(role.value)
            if old is not None and _still_good(session, old.token, account.id, now):
                tokens.append(old)
                continue
            session.execute(
                update(ApiToken)
                .where(
                    ApiToken.account_id == account.id,
                    ApiToken.name == TOKEN_NAME,
                    ApiToken.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            expires = now + LIFETIME
            _, secret = issue_token(
                session, account.id, TOKEN_NAME, frozenset({scope}), expires, False, now
            )
            tokens.append(
                DemoToken(role.value, person.email or "", scope.value, secret, expires.isoformat())
            )
    if tokens != list(saved.values()):
        _write(path, tokens)
    return tuple(tokens)


def _holder(session: Session, property_id: str, role: Role) -> tuple[Person, Account] | None:
    """The first person with this role here who can sign in, and not suspended here."""
    found = session.execute(
        select(Person, Account)
        .join(Account, Account.person_id == Person.id)
        .join(RoleMembership, RoleMembership.person_id == Person.id)
        .join(Property, Property.id == RoleMembership.property_id)
        .outerjoin(
            Profile,
            and_(Profile.person_id == Person.id, Profile.portfolio_id == Property.portfolio_id),
        )
        .where(
            RoleMembership.property_id == property_id,
            RoleMembership.role == role,
            Account.password_hash.is_not(None),
            Profile.suspended_at.is_(None),
            Account.disabled.is_(False),
        )
        .order_by(Person.created_at, Person.id)
    ).first()
    return None if found is None else (found[0], found[1])


def _still_good(session: Session, secret: str, account_id: str, now: datetime) -> bool:
    try:
        principal = principal_from_token(session, secret, now)
    except Unauthenticated:
        return False
    row = session.get(ApiToken, principal.credential_id)
    return (
        principal.account_id == account_id
        and row is not None
        and row.name == TOKEN_NAME
        and (row.expires_at is None or row.expires_at > now + RENEW_BEFORE)
    )


def _read(path: Path) -> list[DemoToken]:
    try:
        return [DemoToken(**item) for item in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []


def _write(path: Path, tokens: list[DemoToken]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # never wider, even over a file left with other permissions
    with os.fdopen(fd, "w") as handle:
        json.dump([asdict(token) for token in tokens], handle, indent=2)
