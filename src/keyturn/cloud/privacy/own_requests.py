"""A person's own data requests as their app shows them: each with its state in words, its
deadlines (D9), who filed it (an authorised agent, D3) and, for a deletion, what still stands
in its way (D4). Read-only views over `requests` and `deletion`; the steps are `requests`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from keyturn.cloud.models import DataSubjectRequest, Person, RequestKind, RequestState
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.deletion import blockers

STATE_WORDS = {
    RequestState.RECEIVED: "Received",
    RequestState.VERIFYING: "Waiting for your code",
    RequestState.VERIFIED: "Verified",
    RequestState.WAITING_ON_PRECONDITIONS: "Waiting: access still to be removed",
    RequestState.IN_PROGRESS: "In progress",
    RequestState.COMPLETED: "Completed",
    RequestState.REFUSED: "Refused",
    RequestState.ON_HOLD: "On hold",
}
KIND_WORDS = {RequestKind.COPY: "Copy of my data", RequestKind.DELETION: "Deletion of my data"}


@dataclass(frozen=True, slots=True)
class OwnRequestShown:
    """One request as its person (or their agent) reads it."""

    id: str
    kind: RequestKind
    kind_words: str
    state: RequestState
    state_words: str
    received_at: datetime
    acknowledge_by: datetime
    answer_by: datetime
    extended: bool
    extension_reason: str | None
    overdue: list[str]
    identity: str
    agent_name: str | None  # who filed it as the person's authorised agent
    for_name: str | None  # whom the caller filed it for, as their agent
    mine: bool  # the caller is the person it is about
    waiting_on: list[str]  # what must be removed before a deletion runs (D4)
    copy_ready: bool
    hold_reason: str | None
    refusal_reason: str | None
    response: str | None
    completed_at: datetime | None


def _name(session: Session, person_id: str | None) -> str | None:
    person = session.get(Person, person_id) if person_id is not None else None
    return person.display_name if person is not None else None


def _shown(
    session: Session, row: DataSubjectRequest, person_id: str, now: datetime
) -> OwnRequestShown:
    mine = row.person_id == person_id
    waiting = (
        blockers(session, row.person_id, now)
        if row.state == RequestState.WAITING_ON_PRECONDITIONS and row.person_id is not None
        else []
    )
    return OwnRequestShown(
        id=row.id,
        kind=row.kind,
        kind_words=KIND_WORDS[row.kind],
        state=row.state,
        state_words=STATE_WORDS[row.state],
        received_at=row.received_at,
        acknowledge_by=requests.acknowledge_by(row),
        answer_by=requests.answer_by(row),
        extended=row.extended_until is not None,
        extension_reason=row.extension_reason,
        overdue=requests.overdue(row, now),
        identity=requests.identity_state(row),
        agent_name=_name(session, row.agent_person_id) if mine else None,
        for_name=None if mine else _name(session, row.person_id),
        mine=mine,
        waiting_on=waiting,
        copy_ready=row.kind == RequestKind.COPY and row.state == RequestState.IN_PROGRESS,
        hold_reason=row.hold_reason,
        refusal_reason=row.refusal_reason,
        response=row.response,
        completed_at=row.completed_at,
    )


def own_requests_shown(*, session: Session, person_id: str, now: datetime) -> list[OwnRequestShown]:
    """The person's requests, as subject or agent, newest first."""
    rows = requests.list_requests(session, now, person_id=person_id)
    return [_shown(session, row, person_id, now) for row in rows]


def own_request_shown(
    *, session: Session, person_id: str, request_id: str, now: datetime
) -> OwnRequestShown:
    """One of the person's requests; RequestNotFound for anyone else's."""
    row = requests.own_request(session=session, person_id=person_id, request_id=request_id)
    return _shown(session, row, person_id, now)


def deletion_preconditions(*, session: Session, person_id: str, now: datetime) -> list[str]:
    """What must be removed before the person's data can be deleted (D4), before they ask;
    empty when a deletion could run as soon as it is verified."""
    return blockers(session, person_id, now)
