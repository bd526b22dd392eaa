"""The copy for a requester who asked outside their own account (D1): an emailed one-time
download link, made and spent by `auth.links` like every other emailed link.

A request from the public form or filed by a reviewer is answered this way once a reviewer
has approved it and it matches a person; downloading completes the request.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.auth import links
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import InvalidLink
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import (
    DataSubjectRequest,
    LinkPurpose,
    Person,
    RequestKind,
    RequestState,
)
from keyturn.cloud.privacy import audit
from keyturn.cloud.privacy.export import deliver_copy

SUBJECT = "Your Keyturn data is ready"
# Requests from these channels are downloaded from the account of the person or their agent.
IN_ACCOUNT = frozenset({"app", "agent"})


def send_copy_link(
    session: Session,
    config: AuthConfig,
    request: DataSubjectRequest,
    now: datetime,
    actor: str | None,
) -> bool:
    """Mail a one-time download link for the copy, if the request is a copy ready to deliver
    to someone outside their account who gave an address; whether one was sent."""
    ready = request.kind == RequestKind.COPY and request.state == RequestState.IN_PROGRESS
    if not ready or request.channel in IN_ACCOUNT or request.person_id is None:
        return False
    person = session.get(Person, request.person_id)
    address = request.requester_email or (person.email if person is not None else None)
    if address is None:
        return False
    link_id, secret = links.issue_link(
        session=session,
        person_id=request.person_id,
        purpose=LinkPurpose.DATA_COPY,
        lifetime_s=config.data_copy_link_lifetime_s,
        created_by=actor,
        now=now,
    )
    request.copy_link_id = link_id
    days = config.data_copy_link_lifetime_s // 86400
    enqueue_mail(
        session,
        address,
        SUBJECT,
        f"The copy of your data you asked for on {request.received_at:%Y-%m-%d} is ready.\n"
        f"Open this link within {days} days to download it; it works once:\n\n"
        f"{config.public_url}/data-copy#token={secret}\n",
        person_id=request.person_id,
    )
    audit.record(
        session,
        now=now,
        actor_person_id=actor,
        action="dsar.copy_link_sent",
        object_type="data_subject_request",
        object_id=request.id,
        property_id=request.property_id,
        detail={"kind": request.kind.value, "state": request.state.value},
    )
    session.flush()
    return True


def take_copy(
    *, session: Session, master_key: bytes, photo_dir: Path, secret: str, now: datetime
) -> tuple[DataSubjectRequest, bytes]:
    """The copy a link was mailed for; the link is spent and the request completed."""
    link_id = links.spend_link(
        session=session, secret=secret, purpose=LinkPurpose.DATA_COPY, now=now
    )
    request = session.scalar(
        select(DataSubjectRequest).where(DataSubjectRequest.copy_link_id == link_id)
    )
    if request is None:
        raise InvalidLink()
    return request, deliver_copy(session, master_key, photo_dir, request, now, None)
