"""The audit record: every disclosure and every privileged change is written here, once.

Records carry their own expiry (24 months) so the retention job can remove them like any
other personal data; the detail never holds secrets or the disclosed content itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from keyturn.cloud.db import new_id
from keyturn.cloud.models import AuditRecord

AUDIT_RETENTION = timedelta(days=730)
# The detail member that marks an act of the installation's operator (the CLI), who is no
# person: records with no actor and without it are the system's own.
BY_OPERATOR: Mapping[str, str] = MappingProxyType({"by": "operator"})
# The mark (in `Session.info`) of a session the installation's operator works in, from the
# command line: what it records with no person behind it is the operator's, not the system's.
OPERATOR_SESSION = "keyturn.operator"
# Reads that disclose history write a record each; a prebuilt INSERT skips the ORM's flush.
_INSERT = insert(cast(Table, AuditRecord.__table__))


def by_operator(detail: Mapping[str, Any] | None) -> bool:
    """Whether a record's detail marks it as the operator's act (see BY_OPERATOR)."""
    return all((detail or {}).get(name) == value for name, value in BY_OPERATOR.items())


def record(
    session: Session,
    *,
    now: datetime,
    actor_person_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None = None,
    property_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add one audit record to the session; the caller's transaction commits it with the work."""
    detail = _marked(session, actor_person_id, detail)
    entry = AuditRecord(
        **_row(now, actor_person_id, action, object_type, object_id, property_id, detail)
    )
    session.add(entry)
    return entry


def write(
    session: Session,
    *,
    now: datetime,
    actor_person_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None = None,
    property_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """`record` for hot read paths: the same row, inserted at once in the caller's transaction
    with no ORM object, so the caller's commit makes it durable."""
    detail = _marked(session, actor_person_id, detail)
    session.execute(
        _INSERT, _row(now, actor_person_id, action, object_type, object_id, property_id, detail)
    )


def _marked(
    session: Session, actor_person_id: str | None, detail: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The detail, with BY_OPERATOR when the operator's session records an act of no person."""
    if actor_person_id is None and session.info.get(OPERATOR_SESSION):
        return {**(detail or {}), **BY_OPERATOR}
    return detail


def _row(
    now: datetime,
    actor_person_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    property_id: str | None,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "at": now,
        "actor_person_id": actor_person_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "property_id": property_id,
        "detail": detail or {},
        "expires_at": now + AUDIT_RETENTION,
    }
