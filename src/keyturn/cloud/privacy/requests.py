"""The data-subject request workflow (D1-D9): filing, verification, review, holds, deadlines
and the step that carries a verified request out.

A request comes from the person's account (channel "app"), an authorised agent ("agent"),
the public form once its address is confirmed ("web form", see `privacy.public`), or a
reviewer filing for someone who wrote or phoned (the channel they used). Only a request from
the person's own account can be verified by its code alone; every other one waits in
verifying until a reviewer approves it (D2, D3).

received → verifying → verified → (deletion: waiting_on_preconditions →) in_progress →
completed; refused and on_hold (resumable) carry a recorded reason. Every step is audited.
The steps take the request itself (the command line finds it by id prefix); the functions at
the end take the request's id as a route names it, find it where the caller may see it (404
elsewhere) and take one step, for the API's routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.mail.addresses import check_address
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import (
    Account,
    DataSubjectRequest,
    Event,
    Grant,
    Key,
    Person,
    Profile,
    Property,
    RecordHold,
    RequestDocument,
    RequestKind,
    RequestState,
    RoleMembership,
)
from keyturn.cloud.privacy import audit, reviewer_notices
from keyturn.cloud.privacy.copy_links import send_copy_link
from keyturn.cloud.privacy.deletion import EVENT_HOLD, blockers, execute_deletion
from keyturn.cloud.privacy.errors import (
    InvalidFiling,
    RequestError,
    RequestNotFound,
    VerificationFailed,
    WrongState,
)
from keyturn.cloud.privacy.export import deliver_copy
from keyturn.cloud.privacy.lock_purges import complete_if_purged
from keyturn.cloud.privacy.verification import (
    DocumentKind,
    check_code,
    decode_upload,
    delete_documents,
    has_document,
    open_document,
    send_code,
    store_document,
)

ANSWER_WITHIN = timedelta(days=45)
EXTENSION = timedelta(days=45)
ACKNOWLEDGE_BUSINESS_DAYS = 10
CHANNEL_APP = "app"
CHANNEL_AGENT = "agent"
CHANNEL_WEB_FORM = "web form"
# The channels whose requests prove an address with a mailed code; any other is vouched for
# by a reviewer's approval.
CODED_CHANNELS = frozenset({CHANNEL_APP, CHANNEL_WEB_FORM})
CLOSED = frozenset({RequestState.COMPLETED, RequestState.REFUSED})
MIN_PREFIX = 4
OBJECT_TYPE = "data_subject_request"


class ReviewerChannel(StrEnum):
    """How a request reached a reviewer who files it for the person (D9's channel)."""

    EMAIL = "email"
    PHONE = "phone"
    POST = "post"
    IN_PERSON = "in_person"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Filed:
    """A new request and the code mailed for it (None for an agent's request)."""

    request: DataSubjectRequest
    code: str | None


def add_business_days(start: datetime, days: int) -> datetime:
    """The instant `days` working days (Monday to Friday) after `start`; before it if negative."""
    step = timedelta(days=1 if days >= 0 else -1)
    moment = start
    left = abs(days)
    while left > 0:
        moment += step
        if moment.weekday() < 5:
            left -= 1
    return moment


def acknowledge_by(request: DataSubjectRequest) -> datetime:
    return add_business_days(request.received_at, ACKNOWLEDGE_BUSINESS_DAYS)


def answer_by(request: DataSubjectRequest) -> datetime:
    """The deadline to answer: 45 days, or the one recorded extension (D9)."""
    return request.extended_until or request.due_at


def overdue(request: DataSubjectRequest, now: datetime) -> list[str]:
    """Which deadlines of D9 the request has missed, in words; empty when on time."""
    flags = []
    if request.acknowledged_at is None and now > acknowledge_by(request):
        flags.append("acknowledgement overdue")
    if request.state not in CLOSED and now > answer_by(request):
        flags.append("answer overdue")
    return flags


def _audit(
    session: Session,
    request: DataSubjectRequest,
    action: str,
    now: datetime,
    actor: str | None,
    **detail: object,
) -> None:
    audit.record(
        session,
        now=now,
        actor_person_id=actor,
        action=f"dsar.{action}",
        object_type=OBJECT_TYPE,
        object_id=request.id,
        property_id=request.property_id,
        detail={"kind": request.kind.value, "state": request.state.value, **detail},
    )


def reviewing_property(session: Session, person_id: str) -> str | None:
    """The property whose reviewers handle the person's requests: their first role, else key."""
    found = session.scalar(
        select(RoleMembership.property_id)
        .where(RoleMembership.person_id == person_id)
        .order_by(RoleMembership.created_at, RoleMembership.id)
        .limit(1)
    )
    if found is None:
        found = session.scalar(
            select(Key.property_id)
            .join(Grant, Grant.key_id == Key.id)
            .where(Grant.person_id == person_id)
            .order_by(Grant.created_at)
            .limit(1)
        )
    return found


def _new_request(
    session: Session,
    person: Person,
    kind: RequestKind,
    channel: str,
    now: datetime,
    agent_person_id: str | None,
) -> DataSubjectRequest:
    if not person.email:
        raise RequestError("the person has no account contact details to verify against")
    request = DataSubjectRequest(
        person_id=person.id,
        kind=kind,
        channel=channel,
        state=RequestState.RECEIVED,
        received_at=now,
        acknowledged_at=now,
        due_at=now + ANSWER_WITHIN,
        agent_person_id=agent_person_id,
        property_id=reviewing_property(session, person.id),
    )
    session.add(request)
    session.flush()
    _audit(session, request, "received", now, agent_person_id or person.id, channel=channel)
    enqueue_mail(
        session,
        person.email,
        "We received your data request",
        f"We received a request for a {kind.value} of your Keyturn data"
        + (" from an authorised agent" if agent_person_id else "")
        + f" on {now:%Y-%m-%d}.\nWe will answer by {request.due_at:%Y-%m-%d}.",
        person_id=person.id,
    )
    _audit(session, request, "acknowledged", now, None)
    reviewer_notices.notify_new(session, request, now)
    return request


def file_request(
    *, session: Session, master_key: bytes, person_id: str, kind: RequestKind, now: datetime
) -> Filed:
    """A person's own request from their account; a code goes to their account address."""
    person = session.get(Person, person_id)
    if person is None:
        raise RequestNotFound()
    request = _new_request(session, person, kind, CHANNEL_APP, now, None)
    code = send_code(session, master_key, request, now)
    _move(session, request, RequestState.VERIFYING, now, None)
    return Filed(request, code)


def file_agent_request(
    *,
    session: Session,
    master_key: bytes,
    agent_person_id: str,
    subject_email: str,
    kind: RequestKind,
    documents: Sequence[tuple[DocumentKind, str, bytes]],
    now: datetime,
) -> Filed:
    """An authorised agent's request for a person (D3): the letter and the agent's proof of
    identity are sealed with it, and a reviewer must approve before anything happens.

    An address with no account is filed all the same, with no subject: the agent gets the same
    answer either way, so filing tells no one whether an address has an account. Its reviewer
    (the agent's property, else the operator) cannot approve it and refuses it with a reason.
    """
    kinds = {kind_ for kind_, _, _ in documents}
    missing = {DocumentKind.AGENT_LETTER, DocumentKind.AGENT_IDENTITY} - kinds
    if missing:
        raise RequestError(f"an agent must send {', '.join(sorted(missing))}")
    person = session.scalar(
        select(Person)
        .join(Account, Account.person_id == Person.id)
        .where(Person.email == subject_email.strip().lower())
    )
    if person is not None and person.id == agent_person_id:
        raise RequestError("that is your own address: file your own request instead")
    if person is None:
        request = _unmatched_agent_request(session, agent_person_id, kind, now)
    else:
        request = _new_request(session, person, kind, CHANNEL_AGENT, now, agent_person_id)
    for doc_kind, content_type, data in documents:
        store_document(session, master_key, request, doc_kind, content_type, data, now)
    _move(session, request, RequestState.VERIFYING, now, agent_person_id)
    return Filed(request, None)


def _unmatched_agent_request(
    session: Session, agent_person_id: str, kind: RequestKind, now: datetime
) -> DataSubjectRequest:
    """An agent's request for an address with no account: the same row, with no subject and
    nobody mailed (the address is not ours to write to)."""
    request = DataSubjectRequest(
        person_id=None,
        kind=kind,
        channel=CHANNEL_AGENT,
        state=RequestState.RECEIVED,
        received_at=now,
        acknowledged_at=now,
        due_at=now + ANSWER_WITHIN,
        agent_person_id=agent_person_id,
        property_id=reviewing_property(session, agent_person_id),
    )
    session.add(request)
    session.flush()
    _audit(session, request, "received", now, agent_person_id, channel=CHANNEL_AGENT)
    reviewer_notices.notify_new(session, request, now)
    return request


def _of_portfolio(property_id: str) -> ColumnElement[bool]:
    """Whether a person is known to the property's portfolio: a role, a profile or a key
    anywhere in it."""
    portfolio = select(Property.portfolio_id).where(Property.id == property_id).scalar_subquery()
    in_portfolio = select(Property.id).where(Property.portfolio_id == portfolio)
    return or_(
        exists().where(
            RoleMembership.person_id == Person.id,
            RoleMembership.property_id.in_(in_portfolio),
        ),
        exists().where(Profile.person_id == Person.id, Profile.portfolio_id == portfolio),
        exists().where(
            Grant.person_id == Person.id,
            Grant.key_id == Key.id,
            Key.property_id.in_(in_portfolio),
        ),
    )


def known_person(session: Session, property_id: str | None, email: str) -> Person | None:
    """The person of the property's portfolio with this address, if the portfolio knows one."""
    if property_id is None:
        return None
    return session.scalar(
        select(Person).where(Person.email == email.strip().lower(), _of_portfolio(property_id))
    )


def _person_of_portfolio(session: Session, property_id: str, person_id: str) -> Person:
    person = session.scalar(
        select(Person).where(Person.id == person_id, _of_portfolio(property_id))
    )
    if person is None:
        raise RequestNotFound("no such person in this portfolio")
    return person


def file_for_requester(
    *,
    session: Session,
    property_id: str,
    reviewer_id: str | None,
    kind: RequestKind,
    channel: ReviewerChannel,
    requester_name: str,
    requester_email: str | None,
    requester_phone: str | None,
    person_id: str | None,
    received_at: datetime | None,
    note: str | None,
    now: datetime,
) -> DataSubjectRequest:
    """A reviewer (or the operator, with no reviewer) files a request someone made by email,
    phone, post or in person; the deadlines run from when it was received (D9).

    The person is the one named, else the portfolio's person with the requester's address,
    else nobody yet. The request waits in verifying until a reviewer approves it, having
    checked who asked (D2). A requester with an address is told at once (acknowledged);
    one reached only by phone or post is acknowledged with `acknowledge_request`.
    """
    received = received_at or now
    if received.tzinfo is None:
        raise InvalidFiling("give received_at with its time zone")
    if received > now:
        raise InvalidFiling("received_at is in the future")
    name = " ".join(requester_name.split())
    email = requester_email.strip().lower() if requester_email else None
    phone = requester_phone.strip() if requester_phone else None
    if not name:
        raise InvalidFiling("give the requester's name")
    if not email and not phone:
        raise InvalidFiling("give the requester's email or phone, to answer them")
    if email is not None:
        check_address(email)
    if session.get(Property, property_id) is None:
        raise RequestNotFound()
    if person_id is not None:
        person: Person | None = _person_of_portfolio(session, property_id, person_id)
    else:
        person = known_person(session, property_id, email) if email else None
    request = DataSubjectRequest(
        person_id=person.id if person is not None else None,
        kind=kind,
        channel=channel.value,
        state=RequestState.RECEIVED,
        received_at=received,
        due_at=received + ANSWER_WITHIN,
        property_id=property_id,
        requester_name=name,
        requester_email=email,
        requester_phone=phone,
        note=note.strip() if note and note.strip() else None,
        filed_by=reviewer_id,
    )
    session.add(request)
    session.flush()
    _audit(session, request, "received", now, reviewer_id, channel=channel.value, filed=True)
    if email is not None:
        acknowledge(session, request, now, reviewer_id)
    _move(session, request, RequestState.VERIFYING, now, reviewer_id)
    reviewer_notices.notify_new(session, request, now)
    return request


def file_from_form(
    session: Session,
    *,
    kind: RequestKind,
    email: str,
    name: str,
    property_id: str | None,
    note: str | None,
    sent_at: datetime,
    now: datetime,
) -> DataSubjectRequest:
    """The request of a public form whose address its code just confirmed (`privacy.public`).

    It runs from when the form was sent, concerns the portfolio's person with that address
    if there is one, is acknowledged by mail, and waits for a reviewer's approval (D2).
    """
    person = known_person(session, property_id, email)
    request = DataSubjectRequest(
        person_id=person.id if person is not None else None,
        kind=kind,
        channel=CHANNEL_WEB_FORM,
        state=RequestState.RECEIVED,
        received_at=sent_at,
        due_at=sent_at + ANSWER_WITHIN,
        property_id=property_id,
        code_confirmed_at=now,
        requester_name=name,
        requester_email=email,
        note=note,
    )
    session.add(request)
    session.flush()
    _audit(session, request, "received", now, None, channel=CHANNEL_WEB_FORM)
    _audit(session, request, "code_confirmed", now, None)
    acknowledge(session, request, now, None)
    _move(session, request, RequestState.VERIFYING, now, None)
    reviewer_notices.notify_new(session, request, now)
    return request


def acknowledge(
    session: Session, request: DataSubjectRequest, now: datetime, actor: str | None
) -> DataSubjectRequest:
    """Record that the requester was told their request arrived (D9's first deadline); those
    with an address are mailed the acknowledgement, others were told by phone or post."""
    if request.acknowledged_at is not None:
        raise WrongState("the request was already acknowledged")
    request.acknowledged_at = now
    address = request.requester_email
    if address is None and request.person_id is not None:
        person = session.get(Person, request.person_id)
        address = person.email if person is not None else None
    if address is not None:
        enqueue_mail(
            session,
            address,
            "We received your data request",
            f"We received your request for a {request.kind.value} of your Keyturn data"
            f" on {request.received_at:%Y-%m-%d}.\n"
            f"We will answer by {answer_by(request):%Y-%m-%d}.",
            person_id=request.person_id,
        )
    session.flush()
    _audit(session, request, "acknowledged", now, actor, mailed=address is not None)
    return request


def identity_state(request: DataSubjectRequest) -> str:
    """How far who asked has been proven (D2, D3), in words for the reviewer's queue."""
    if request.verified_at is not None:
        return "verified"
    approved = request.approved_at is not None
    if request.agent_person_id is not None:
        proof = "agent's documents approved" if approved else "agent's documents to review"
    elif request.channel not in CODED_CHANNELS:
        proof = "approved by a reviewer" if approved else "not verified: check who asked"
    elif request.channel == CHANNEL_WEB_FORM:
        proof = "email verified" + ("; approved" if approved else "; awaiting approval")
    else:
        proof = "code confirmed" if request.code_confirmed_at else "code not yet confirmed"
    if request.id_required and not approved:
        proof += "; government ID required"
    return proof


def match_of(session: Session, request: DataSubjectRequest) -> str:
    """Whom the request concerns, as the reviewer sees it: a known person or nobody yet."""
    person = session.get(Person, request.person_id) if request.person_id else None
    if person is None:
        return "no known person"
    return f"matches person {person.display_name} ({person.id})"


def _move(
    session: Session,
    request: DataSubjectRequest,
    state: RequestState,
    now: datetime,
    actor: str | None,
    **detail: object,
) -> None:
    request.state = state
    session.flush()
    _audit(session, request, state.value, now, actor, **detail)


def _require(request: DataSubjectRequest, *states: RequestState) -> None:
    if request.state not in states:
        wanted = " or ".join(state.value for state in states)
        raise WrongState(f"the request is {request.state.value}, not {wanted}")


def confirm_code(
    session: Session,
    master_key: bytes,
    request: DataSubjectRequest,
    code: str,
    email: str,
    display_name: str,
    now: datetime,
) -> DataSubjectRequest:
    """The person's code and account details (D2); verified once any review is done too."""
    _require(request, RequestState.VERIFYING)
    check_code(session, master_key, request, code, email, display_name, now)
    request.code_confirmed_at = now
    _audit(session, request, "code_confirmed", now, request.person_id)
    _maybe_verified(session, request, now)
    return request


def resend_code(
    session: Session, master_key: bytes, request: DataSubjectRequest, now: datetime
) -> str:
    _require(request, RequestState.VERIFYING)
    return send_code(session, master_key, request, now)


def add_document(
    session: Session,
    master_key: bytes,
    request: DataSubjectRequest,
    kind: DocumentKind,
    content_type: str,
    data: bytes,
    now: datetime,
    actor: str | None,
) -> None:
    """Keep one more document (a government ID the reviewer asked for) with the request."""
    _require(request, RequestState.RECEIVED, RequestState.VERIFYING)
    store_document(session, master_key, request, kind, content_type, data, now)
    _audit(session, request, "document_added", now, actor, document=kind.value)


def require_id(
    session: Session, request: DataSubjectRequest, now: datetime, actor: str | None
) -> DataSubjectRequest:
    """A reviewer asks for a government ID (D2); the request waits in verifying until then."""
    _require(request, RequestState.RECEIVED, RequestState.VERIFYING, RequestState.VERIFIED)
    request.id_required = True
    request.approved_at = None
    request.verified_at = None
    _move(session, request, RequestState.VERIFYING, now, actor, asked="government_id")
    return request


def approve(
    session: Session, request: DataSubjectRequest, now: datetime, actor: str | None
) -> DataSubjectRequest:
    """A reviewer accepts the documents on file: an agent's (D3), or a government ID (D2)."""
    _require(request, RequestState.VERIFYING)
    if request.person_id is None:
        raise RequestError(
            "no account has the address this request names: refuse it, giving that reason"
        )
    needed = []
    if request.agent_person_id is not None:
        needed += [DocumentKind.AGENT_LETTER, DocumentKind.AGENT_IDENTITY]
    if request.id_required:
        needed.append(DocumentKind.GOVERNMENT_ID)
    missing = [kind.value for kind in needed if not has_document(session, request.id, kind)]
    if missing:
        raise RequestError(f"still missing: {', '.join(missing)}")
    request.approved_at = now
    _audit(session, request, "approved", now, actor)
    _maybe_verified(session, request, now)
    return request


def needs_approval(request: DataSubjectRequest) -> bool:
    """Whether a reviewer must approve before the request counts as verified (D2, D3): any
    request that did not come from the person's own account, or one where an ID was asked."""
    return request.channel != CHANNEL_APP or request.id_required


def _maybe_verified(session: Session, request: DataSubjectRequest, now: datetime) -> None:
    # An agent's or a reviewer's filing has no code: the reviewer's approval vouches for it.
    coded = request.channel in CODED_CHANNELS
    identity_ok = not coded or request.code_confirmed_at is not None
    review_ok = request.approved_at is not None or not needs_approval(request)
    if identity_ok and review_ok:
        request.verified_at = now
        _move(session, request, RequestState.VERIFIED, now, None)


def proceed(
    session: Session,
    master_key: bytes,
    photo_dir: Path | None,
    request: DataSubjectRequest,
    now: datetime,
    actor: str | None = None,
) -> list[str]:
    """Carry a verified request forward; for a deletion, the blockers still in the way (D4).

    A copy becomes ready to download. A deletion waits while the person holds any access,
    else it runs and completes once every lock has confirmed its purge.
    """
    _require(request, RequestState.VERIFIED, RequestState.WAITING_ON_PRECONDITIONS)
    if request.kind == RequestKind.COPY:
        _move(session, request, RequestState.IN_PROGRESS, now, actor)
        return []
    assert request.person_id is not None
    found = blockers(session, request.person_id, now)
    if found:
        if request.state != RequestState.WAITING_ON_PRECONDITIONS:
            _move(session, request, RequestState.WAITING_ON_PRECONDITIONS, now, actor)
        request.response = "waiting: " + "; ".join(found)
        return found
    _move(session, request, RequestState.IN_PROGRESS, now, actor)
    report = execute_deletion(session, master_key, photo_dir, request, now)
    request.response = "deleted; entrance and common history anonymised 90 days later"
    _audit(
        session,
        request,
        "executed",
        now,
        actor,
        residence_events_deleted=report.residence_events_deleted,
        photos_erased=report.photos_erased,
        kept_for_security=report.kept_for_security,
        locks_to_purge=report.locks_to_purge,
    )
    complete_if_purged(session, request.id, now)
    return []


def complete(session: Session, request: DataSubjectRequest, now: datetime, response: str) -> None:
    """Close the request as answered; its documents and codes are deleted (D3)."""
    request.completed_at = now
    request.response = response
    delete_documents(session, request.id)
    _move(session, request, RequestState.COMPLETED, now, None)


def refuse(
    session: Session, request: DataSubjectRequest, reason: str, now: datetime, actor: str | None
) -> DataSubjectRequest:
    """Refuse for a recorded legal reason (D7); the person is told why, if they can be."""
    if request.state in CLOSED or request.executed_at is not None:
        raise WrongState(f"the request is already {request.state.value}")
    _reason(reason)
    request.refusal_reason = reason
    request.response = f"refused: {reason}"
    request.completed_at = now
    request.held_state = None
    delete_documents(session, request.id)
    _move(session, request, RequestState.REFUSED, now, actor, reason=reason)
    _tell(session, request, "Your data request was refused", f"Reason: {reason}")
    return request


def hold(
    session: Session, request: DataSubjectRequest, reason: str, now: datetime, actor: str | None
) -> DataSubjectRequest:
    """Pause the request for a recorded legal reason (D7); `release` resumes it."""
    if request.state in CLOSED or request.state == RequestState.ON_HOLD:
        raise WrongState(f"the request is {request.state.value}")
    _reason(reason)
    request.held_state = request.state.value
    request.hold_reason = reason
    _move(session, request, RequestState.ON_HOLD, now, actor, reason=reason)
    return request


def release(
    session: Session, request: DataSubjectRequest, now: datetime, actor: str | None
) -> DataSubjectRequest:
    _require(request, RequestState.ON_HOLD)
    state = RequestState(request.held_state or RequestState.RECEIVED)
    request.held_state = None
    request.hold_reason = None
    _move(session, request, state, now, actor, released=True)
    return request


def exempt_events(
    session: Session,
    request: DataSubjectRequest,
    event_ids: Sequence[str],
    reason: str,
    now: datetime,
    actor: str | None,
) -> list[RecordHold]:
    """Exempt named events of the person from this request, with the legal reason (D7)."""
    if request.state in CLOSED:
        raise WrongState(f"the request is already {request.state.value}")
    _reason(reason)
    wanted = sorted(set(event_ids))
    found = set(
        session.scalars(
            select(Event.id).where(
                Event.id.in_(wanted),
                or_(Event.subject_id == request.person_id, Event.granted_by == request.person_id),
            )
        )
    )
    unknown = [event_id for event_id in wanted if event_id not in found]
    if unknown:
        raise RequestNotFound(f"no event of this person: {', '.join(unknown)}")
    have = {hold_.object_id for hold_ in record_holds(session, request.id)}
    rows = [
        RecordHold(
            request_id=request.id,
            object_type=EVENT_HOLD,
            object_id=event_id,
            reason=reason,
            created_by=actor,
            created_at=now,
        )
        for event_id in wanted
        if event_id not in have
    ]
    session.add_all(rows)
    session.flush()
    _audit(session, request, "records_held", now, actor, events=len(rows), reason=reason)
    return rows


def record_holds(session: Session, request_id: str) -> list[RecordHold]:
    return list(
        session.scalars(
            select(RecordHold)
            .where(RecordHold.request_id == request_id)
            .order_by(RecordHold.created_at, RecordHold.object_id)
        )
    )


def extend(
    session: Session, request: DataSubjectRequest, reason: str, now: datetime, actor: str | None
) -> DataSubjectRequest:
    """The one 45-day extension (D9), recorded and notified with its reason."""
    if request.state in CLOSED:
        raise WrongState(f"the request is already {request.state.value}")
    if request.extended_until is not None:
        raise WrongState("a request may be extended only once")
    _reason(reason)
    request.extended_until = request.due_at + EXTENSION
    request.extension_reason = reason
    session.flush()
    _audit(session, request, "extended", now, actor, reason=reason)
    _tell(
        session,
        request,
        "Your data request needs more time",
        f"We will answer by {request.extended_until:%Y-%m-%d}. Reason: {reason}",
    )
    return request


def _reason(reason: str) -> None:
    if not reason.strip():
        raise RequestError("give the reason; it is recorded and shown")


def _tell(session: Session, request: DataSubjectRequest, subject: str, body: str) -> None:
    person = session.get(Person, request.person_id) if request.person_id else None
    if person is not None and person.email:
        enqueue_mail(session, person.email, subject, body, person_id=person.id)


def find_request(session: Session, id_or_prefix: str) -> DataSubjectRequest:
    """The request with this id, or the one id starting with this prefix (4+ characters)."""
    wanted = id_or_prefix.strip().lower()
    exact = session.get(DataSubjectRequest, wanted)
    if exact is not None:
        return exact
    if len(wanted) < MIN_PREFIX or not all(c in "0123456789abcdef-" for c in wanted):
        raise RequestNotFound(f"no request {id_or_prefix!r}")
    found = session.scalars(
        select(DataSubjectRequest).where(DataSubjectRequest.id.startswith(wanted)).limit(2)
    ).all()
    if len(found) != 1:
        raise RequestNotFound(f"no single request with an id starting {wanted!r}")
    return found[0]


def list_requests(
    session: Session,
    now: datetime,
    *,
    property_id: str | None = None,
    state: RequestState | None = None,
    overdue_only: bool = False,
    person_id: str | None = None,
) -> list[DataSubjectRequest]:
    """Requests newest first, filtered by property, state, person (as subject or agent)."""
    query = select(DataSubjectRequest).order_by(
        DataSubjectRequest.received_at.desc(), DataSubjectRequest.id
    )
    if property_id is not None:
        query = query.where(DataSubjectRequest.property_id == property_id)
    if state is not None:
        query = query.where(DataSubjectRequest.state == state)
    if person_id is not None:
        query = query.where(
            or_(
                DataSubjectRequest.person_id == person_id,
                DataSubjectRequest.agent_person_id == person_id,
            )
        )
    rows = list(session.scalars(query))
    return [row for row in rows if overdue(row, now)] if overdue_only else rows


def documents_of(session: Session, request_id: str) -> list[RequestDocument]:
    """The documents kept with a request, oldest first (their kinds, never their contents)."""
    return list(
        session.scalars(
            select(RequestDocument)
            .where(RequestDocument.request_id == request_id)
            .order_by(RequestDocument.created_at)
        )
    )


# The API's steps: the request found by id where the caller may see it, then one step.


def own_request(*, session: Session, person_id: str, request_id: str) -> DataSubjectRequest:
    """The person's request, as its subject or its agent; 404 for anyone else's."""
    row = session.get(DataSubjectRequest, request_id)
    if row is None or person_id not in (row.person_id, row.agent_person_id):
        raise RequestNotFound()
    return row


def reviewed_request(*, session: Session, request_id: str) -> DataSubjectRequest:
    """A request for its reviewer (`requires` checked the property that handles it)."""
    row = session.get(DataSubjectRequest, request_id)
    if row is None:
        raise RequestNotFound()
    return row


def _carry_on(
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    request: DataSubjectRequest,
    now: datetime,
    actor: str,
) -> DataSubjectRequest:
    """Carry a request that a step has just verified forward at once (`proceed`)."""
    if request.state == RequestState.VERIFIED:
        proceed(session, master_key, photo_dir, request, now, actor)
    return request


def verify_own_request(
    *,
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    person_id: str,
    request_id: str,
    code: str,
    email: str,
    display_name: str,
    now: datetime,
) -> DataSubjectRequest:
    """Confirm the mailed code and the account details (D2); a verified request moves on.

    A failed try is committed here before the refusal is raised, so it counts even though
    the request fails (as the login throttle's attempts do).
    """
    request = own_request(session=session, person_id=person_id, request_id=request_id)
    try:
        confirm_code(session, master_key, request, code, email, display_name, now)
    except VerificationFailed:
        session.commit()
        raise
    return _carry_on(session, master_key, photo_dir, request, now, person_id)


def resend_own_code(
    *, session: Session, master_key: bytes, person_id: str, request_id: str, now: datetime
) -> None:
    """Mail a new code for the person's request that is still being verified."""
    request = own_request(session=session, person_id=person_id, request_id=request_id)
    resend_code(session, master_key, request, now)


def add_own_document(
    *,
    session: Session,
    master_key: bytes,
    person_id: str,
    request_id: str,
    kind: DocumentKind,
    content_type: str,
    data_base64: str,
    now: datetime,
) -> DataSubjectRequest:
    """Keep the government ID a reviewer asked for (D2), sent as base64, with the person's
    request."""
    request = own_request(session=session, person_id=person_id, request_id=request_id)
    data = decode_upload(data_base64, content_type)
    add_document(session, master_key, request, kind, content_type, data, now, person_id)
    return request


def proceed_own_request(
    *,
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    person_id: str,
    request_id: str,
    now: datetime,
) -> DataSubjectRequest:
    """Check again whether the person's waiting deletion can run now (D4)."""
    request = own_request(session=session, person_id=person_id, request_id=request_id)
    proceed(session, master_key, photo_dir, request, now, person_id)
    return request


def own_copy(
    *,
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    person_id: str,
    request_id: str,
    now: datetime,
) -> tuple[DataSubjectRequest, bytes]:
    """The copy of the person's verified copy request (D1); taking it completes the request."""
    request = own_request(session=session, person_id=person_id, request_id=request_id)
    return request, deliver_copy(session, master_key, photo_dir, request, now, person_id)


def read_document(
    *,
    session: Session,
    master_key: bytes,
    request_id: str,
    document_id: str,
    reader_id: str,
    now: datetime,
) -> tuple[RequestDocument, bytes]:
    """One document of a request in clear for its reviewer; every read is audited."""
    request = reviewed_request(session=session, request_id=request_id)
    document = session.get(RequestDocument, document_id)
    if document is None or document.request_id != request.id:
        raise RequestNotFound()
    data = open_document(master_key, document)
    audit.record(
        session,
        now=now,
        actor_person_id=reader_id,
        action="dsar.document_read",
        object_type=OBJECT_TYPE,
        object_id=request.id,
        property_id=request.property_id,
        detail={"document": document.kind},
    )
    return document, data


def approve_request(
    *,
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    config: AuthConfig,
    request_id: str,
    reviewer_id: str,
    now: datetime,
) -> DataSubjectRequest:
    """Accept an agent's documents (D3), a government ID (D2), or who asked on the public form
    or by phone or post; a verified request moves on, and a copy for someone outside their
    account is mailed to them as a one-time link."""
    request = reviewed_request(session=session, request_id=request_id)
    approve(session, request, now, reviewer_id)
    _carry_on(session, master_key, photo_dir, request, now, reviewer_id)
    send_copy_link(session, config, request, now, reviewer_id)
    return request


def require_government_id(
    *, session: Session, request_id: str, reviewer_id: str, now: datetime
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    return require_id(session, request, now, reviewer_id)


def refuse_request(
    *, session: Session, request_id: str, reason: str, reviewer_id: str, now: datetime
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    return refuse(session, request, reason, now, reviewer_id)


def hold_request(
    *, session: Session, request_id: str, reason: str, reviewer_id: str, now: datetime
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    return hold(session, request, reason, now, reviewer_id)


def release_request(
    *, session: Session, request_id: str, reviewer_id: str, now: datetime
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    return release(session, request, now, reviewer_id)


def exempt_records(
    *,
    session: Session,
    request_id: str,
    event_ids: Sequence[str],
    reason: str,
    reviewer_id: str,
    now: datetime,
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    exempt_events(session, request, event_ids, reason, now, reviewer_id)
    return request


def extend_request(
    *, session: Session, request_id: str, reason: str, reviewer_id: str, now: datetime
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    return extend(session, request, reason, now, reviewer_id)


def proceed_request(
    *,
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    request_id: str,
    reviewer_id: str,
    now: datetime,
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    proceed(session, master_key, photo_dir, request, now, reviewer_id)
    return request


def acknowledge_request(
    *, session: Session, request_id: str, reviewer_id: str, now: datetime
) -> DataSubjectRequest:
    request = reviewed_request(session=session, request_id=request_id)
    return acknowledge(session, request, now, reviewer_id)
