"""Data-subject requests as their reviewer reads them on a page: who asked by name, the D9
deadlines, where the proof of identity stands, holds, what still blocks a deletion (D4) and
each lock's purge (D8).

Read-only views over `privacy.requests`; the steps themselves stay there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.models import DataSubjectRequest, Person
from keyturn.cloud.people.profiles import known_name, portfolio_of
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.deletion import blockers
from keyturn.cloud.privacy.lock_purges import LockPurgeStatus, purge_status
from keyturn.cloud.privacy.models import RequestKind, RequestState

OPEN_STEPS = frozenset(
    {RequestState.RECEIVED, RequestState.VERIFYING, RequestState.VERIFIED}
)  # where a reviewer may still ask for a government ID


@dataclass(frozen=True, slots=True)
class HoldShown:
    """A record kept back from a deletion, and why (D7)."""

    what: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewedRequest:
    """One request as its reviewer's queue and page show it; names, never ids."""

    id: str
    kind: RequestKind
    channel: str
    state: RequestState
    who: str
    concerns: str | None  # the known person it matched, by name; None when nobody yet
    agent: str | None  # the authorised agent who filed it, by name
    requester_email: str | None
    requester_phone: str | None
    note: str | None
    received_at: datetime
    acknowledged_at: datetime | None
    acknowledge_by: datetime
    answer_by: datetime
    extended_until: datetime | None
    extension_reason: str | None
    overdue: list[str]
    identity: str
    verified: bool
    id_required: bool
    hold_reason: str | None
    holds: list[HoldShown]
    waiting_on: list[str]
    refusal_reason: str | None
    response: str | None
    completed_at: datetime | None
    locks: list[LockPurgeStatus]
    documents: list[str]

    @property
    def closed(self) -> bool:
        return self.state in requests.CLOSED

    @property
    def state_words(self) -> str:
        return self.state.value.replace("_", " ")

    @property
    def may_approve(self) -> bool:
        return self.state == RequestState.VERIFYING

    @property
    def may_acknowledge(self) -> bool:
        return self.acknowledged_at is None and not self.closed

    @property
    def may_require_id(self) -> bool:
        return self.state in OPEN_STEPS and not self.id_required

    @property
    def may_refuse(self) -> bool:
        return not self.closed and self.state != RequestState.IN_PROGRESS

    @property
    def may_hold(self) -> bool:
        return not self.closed and self.state != RequestState.ON_HOLD

    @property
    def may_release(self) -> bool:
        return self.state == RequestState.ON_HOLD

    @property
    def may_extend(self) -> bool:
        return not self.closed and self.extended_until is None

    @property
    def may_proceed(self) -> bool:
        return self.state in (RequestState.VERIFIED, RequestState.WAITING_ON_PRECONDITIONS)


def _names(session: Session, property_id: str, person_ids: Iterable[str | None]) -> dict[str, str]:
    """The names this property's portfolio knows these people by."""
    wanted = sorted({person_id for person_id in person_ids if person_id})
    if not wanted:
        return {}
    portfolio_id = portfolio_of(session, property_id)
    rows = session.execute(
        select(Person.id, known_name(Person.id, portfolio_id)).where(Person.id.in_(wanted))
    )
    return {person_id: name for person_id, name in rows}


def _shown(
    session: Session, row: DataSubjectRequest, names: dict[str, str], now: datetime, *, full: bool
) -> ReviewedRequest:
    concerns = names.get(row.person_id) if row.person_id else None
    waiting: list[str] = []
    if row.state == RequestState.WAITING_ON_PRECONDITIONS and row.person_id is not None:
        waiting = blockers(session, row.person_id, now)
    return ReviewedRequest(
        id=row.id,
        kind=row.kind,
        channel=row.channel,
        state=row.state,
        who=row.requester_name or concerns or "someone not yet identified",
        concerns=concerns,
        agent=names.get(row.agent_person_id) if row.agent_person_id else None,
        requester_email=row.requester_email,
        requester_phone=row.requester_phone,
        note=row.note,
        received_at=row.received_at,
        acknowledged_at=row.acknowledged_at,
        acknowledge_by=requests.acknowledge_by(row),
        answer_by=requests.answer_by(row),
        extended_until=row.extended_until,
        extension_reason=row.extension_reason,
        overdue=requests.overdue(row, now),
        identity=requests.identity_state(row),
        verified=row.verified_at is not None,
        id_required=row.id_required,
        hold_reason=row.hold_reason,
        holds=[
            HoldShown(hold.object_type.replace("_", " "), hold.reason, hold.created_at)
            for hold in requests.record_holds(session, row.id)
        ]
        if full
        else [],
        waiting_on=waiting,
        refusal_reason=row.refusal_reason,
        response=row.response,
        completed_at=row.completed_at,
        locks=purge_status(session, row.id) if full else [],
        documents=[doc.kind.replace("_", " ") for doc in requests.documents_of(session, row.id)]
        if full
        else [],
    )


def review_queue(
    *, session: Session, property_id: str, now: datetime, overdue_only: bool = False
) -> list[ReviewedRequest]:
    """The property's requests for its reviewers, newest first, with names and deadlines."""
    rows = requests.list_requests(session, now, property_id=property_id, overdue_only=overdue_only)
    names = _names(
        session, property_id, [p for r in rows for p in (r.person_id, r.agent_person_id)]
    )
    return [_shown(session, row, names, now, full=False) for row in rows]


def reviewed_request(*, session: Session, request_id: str, now: datetime) -> ReviewedRequest:
    """One request for its reviewer (the gate checked the property that handles it)."""
    row = requests.reviewed_request(session=session, request_id=request_id)
    property_id = row.property_id
    names = (
        _names(session, property_id, [row.person_id, row.agent_person_id]) if property_id else {}
    )
    return _shown(session, row, names, now, full=True)
