"""Portal pages in tests: a browser-like client signed in as one person with a cookie session.

`portal.as_person(person_id)` opens a cookie session through the auth service (no password
work) and returns a `Browser` whose POSTs carry the form's CSRF field, as a page's form does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import Clock
from keyturn.cloud.auth import service as auth_service
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.deps import CSRF_COOKIE, SESSION_COOKIE
from keyturn.cloud.models import Account

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def visible_text(html: str) -> str:
    """The page's text a person reads: tags, attributes and scripts left out."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", body)


def assert_no_raw_ids(html: str) -> None:
    """No UUID in what the page shows (links may carry them; the text may not)."""
    assert UUID.findall(visible_text(html)) == []


@dataclass
class Browser:
    """A TestClient with one person's cookie session; `post` sends the CSRF form field."""

    client: TestClient
    csrf_token: str

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        form = {"csrf_token": self.csrf_token, **(data or {})}
        return self.client.post(url, data=form, **kwargs)


@dataclass
class Portal:
    app: FastAPI
    db: Session
    clock: Clock
    opened: list[TestClient] = field(default_factory=list)

    def as_person(self, person_id: str) -> Browser:
        """A browser signed in as the person (who must have an account)."""
        account = self.db.scalars(select(Account).where(Account.person_id == person_id)).one()
        new = auth_service.open_session(
            session=self.db, config=AuthConfig(), account=account, address="test", now=self.clock()
        )
        self.db.commit()
        client = TestClient(self.app, base_url="https://testserver")
        client.__enter__()
        self.opened.append(client)
        client.cookies.set(SESSION_COOKIE, new.secret)
        client.cookies.set(CSRF_COOKIE, new.csrf_token)
        return Browser(client, new.csrf_token)

    def anonymous(self) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver")
        client.__enter__()
        self.opened.append(client)
        return client
