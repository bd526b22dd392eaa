"""Every session the cloud opens, and the flush checks that run on each of them.

The checks are installed here and nowhere else, on CloudSession, the class of every session
`session_factory` makes (the app, the CLI, the jobs, the simulator and the tests all open
their sessions through it):

- a door's kind stays fixed while a lock is bound to it (properties.door_kind);
- access revisions move with every change a door's access list is built from
  (access.revisions), so a lock never keeps a stale list;
- no credential is collected without the consent R5 and R7 ask for (people.consent.check);
- a SQLite writer's turn passes to the next when its transaction ends (properties.write_locks).

A plain `sqlalchemy.orm.Session` runs none of them: never open one on the cloud's database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud.access import revisions
from keyturn.cloud.people.consent import check as consent_check
from keyturn.cloud.properties import door_kind, write_locks


class CloudSession(Session):
    """A Session running the cloud's flush checks (see LISTENERS)."""


# (event, listener) in the order they run; consent is judged after the flush wrote its rows.
LISTENERS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("before_flush", door_kind.door_kind_fixed_once_bound),
    ("before_flush", revisions.before_flush),
    ("after_flush", revisions.after_flush),
    ("do_orm_execute", revisions.bulk_statement),
    ("after_flush", consent_check.check_consent),
    ("after_transaction_end", write_locks.pass_the_turn),
)
for _event, _listener in LISTENERS:
    event.listen(CloudSession, _event, _listener)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Cloud sessions bound to the engine; objects stay readable after commit (no expiry)."""
    return sessionmaker(bind=engine, class_=CloudSession, expire_on_commit=False)
