"""Telling a property's reviewers about data requests: a new one, and one near a deadline.

The reviewers are whoever the permission table lets review requests at the property. Each
notice is recorded before it is mailed, under a unique (request, notice) pair, so it goes out
once however many job runs or servers look; the mail says only what a reviewer needs to find
the request (its kind, dates and where it is), never who asked or any code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyturn.cloud.auth.permissions import Action, people_allowed
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import (
    DataSubjectRequest,
    Person,
    Property,
    PublicRequest,
    RequestState,
    ReviewerNotice,
)

NEW = "new"
# Reviewers are warned this many business days before the acknowledgement deadline, if the
# request is still unacknowledged, and this many days before the answer deadline, if open.
ACKNOWLEDGE_WARNING_BUSINESS_DAYS = 3
ANSWER_WARNING = timedelta(days=7)
OPEN_STATES = frozenset(RequestState) - {RequestState.COMPLETED, RequestState.REFUSED}


@dataclass(frozen=True, slots=True)
class NoticeRun:
    """What one deadline check did: notices sent and unconfirmed public requests dropped."""

    notices: int
    expired_public_requests: int

    def as_json(self) -> dict[str, int]:
        return {"notices": self.notices, "expired_public_requests": self.expired_public_requests}


def reviewers_of(session: Session, property_id: str) -> list[Person]:
    """The people who may review data requests at the property and have an address."""
    ids = people_allowed(session, Action.DSAR_REVIEW, property_id)
    if not ids:
        return []
    people = session.scalars(
        select(Person).where(Person.id.in_(ids), Person.email.is_not(None)).order_by(Person.id)
    )
    return list(people)


def notify_new(session: Session, request: DataSubjectRequest, now: datetime) -> int:
    """Mail the property's reviewers that a request arrived; the number of them mailed."""
    from keyturn.cloud.privacy import requests as workflow

    return _send_once(
        session,
        request,
        NEW,
        now,
        "A new data request to review",
        f"A {request.kind.value} request arrived on {request.received_at:%Y-%m-%d}"
        f" by {_channel(request)}.\n"
        f"Acknowledge by {workflow.acknowledge_by(request):%Y-%m-%d};"
        f" answer by {workflow.answer_by(request):%Y-%m-%d}.",
    )


def send_deadline_notices(session: Session, now: datetime) -> int:
    """Warn reviewers of every open request near a deadline it has not met; notices sent."""
    from keyturn.cloud.privacy import requests as workflow

    rows = session.scalars(
        select(DataSubjectRequest)
        .where(
            DataSubjectRequest.state.in_(OPEN_STATES),
            DataSubjectRequest.property_id.is_not(None),
        )
        .order_by(DataSubjectRequest.received_at, DataSubjectRequest.id)
    ).all()
    due: list[tuple[DataSubjectRequest, str, str, str]] = []
    for request in rows:
        said = f"A {request.kind.value} request received on {request.received_at:%Y-%m-%d}"
        said += f" by {_channel(request)}"
        acknowledge_by = workflow.acknowledge_by(request)
        warn_from = workflow.add_business_days(acknowledge_by, -ACKNOWLEDGE_WARNING_BUSINESS_DAYS)
        if request.acknowledged_at is None and now >= warn_from:
            due.append(
                (
                    request,
                    f"acknowledge_by:{acknowledge_by:%Y-%m-%d}",
                    "A data request is near its acknowledgement deadline",
                    f"{said} must be acknowledged by {acknowledge_by:%Y-%m-%d}.",
                )
            )
        answer_by = workflow.answer_by(request)
        if now >= answer_by - ANSWER_WARNING:
            due.append(
                (
                    request,
                    f"answer_by:{answer_by:%Y-%m-%d}",
                    "A data request is near its answer deadline",
                    f"{said} must be answered by {answer_by:%Y-%m-%d};"
                    f" it is {request.state.value}.",
                )
            )
    if not due:
        return 0
    known = _Known(
        sent={
            (request_id, kind)
            for request_id, kind in session.execute(
                select(ReviewerNotice.request_id, ReviewerNotice.kind)
                .join(DataSubjectRequest, DataSubjectRequest.id == ReviewerNotice.request_id)
                .where(DataSubjectRequest.state.in_(OPEN_STATES))
            )
        }
    )
    sent = 0
    for request, kind, subject, body in due:
        sent += bool(_send_once(session, request, kind, now, subject, body, known))
    return sent


def drop_expired_public_requests(session: Session, now: datetime) -> int:
    """Delete the public forms whose code has expired: an unconfirmed one never became a
    request, a confirmed one lives on as its request."""
    result = session.execute(
        delete(PublicRequest)
        .where(PublicRequest.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def run_deadline_check(sessions: Callable[[], Session], now: datetime) -> NoticeRun:
    """The background job's run: deadline notices, then the expired public requests."""
    with sessions() as session:
        notices = send_deadline_notices(session, now)
        session.commit()
        dropped = drop_expired_public_requests(session, now)
        session.commit()
    return NoticeRun(notices, dropped)


def _channel(request: DataSubjectRequest) -> str:
    return request.channel.replace("_", " ")


@dataclass
class _Known:
    """What one run already knows: the notices recorded before it (None: ask the database
    each time) and each property's reviewers."""

    sent: set[tuple[str, str]] | None = None
    reviewers: dict[str, list[Person]] = field(default_factory=dict)


def _send_once(
    session: Session,
    request: DataSubjectRequest,
    kind: str,
    now: datetime,
    subject: str,
    body: str,
    known: _Known | None = None,
) -> int:
    """Record the notice, then mail it to every reviewer; 0 when it was sent before, or when
    the property has no reviewer to tell (then it is not recorded, and a later run retries)."""
    if request.property_id is None:
        return 0
    known = known or _Known()
    if known.sent is not None:
        if (request.id, kind) in known.sent:
            return 0
    elif session.scalar(
        select(ReviewerNotice.id).where(
            ReviewerNotice.request_id == request.id, ReviewerNotice.kind == kind
        )
    ):
        return 0
    if request.property_id not in known.reviewers:
        known.reviewers[request.property_id] = reviewers_of(session, request.property_id)
    reviewers = known.reviewers[request.property_id]
    if not reviewers:
        return 0
    try:
        # Another server's run may record the same notice first: the unique pair decides.
        with session.begin_nested():
            session.add(
                ReviewerNotice(
                    request_id=request.id, kind=kind, sent_at=now, recipients=len(reviewers)
                )
            )
    except IntegrityError:
        return 0
    prop = session.get(Property, request.property_id)
    where = (
        f"\n\nProperty: {prop.name if prop else request.property_id}\n"
        f"Request: /api/v1/data-requests/{request.id}\n"
        f"Queue: /api/v1/properties/{request.property_id}/data-requests\n"
    )
    for reviewer in reviewers:
        assert reviewer.email is not None
        enqueue_mail(session, reviewer.email, subject, body + where, person_id=reviewer.id)
    return len(reviewers)
