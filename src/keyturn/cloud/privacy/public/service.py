"""The public data-request form: anyone may ask for a copy or deletion of their data, and
prove the address they gave with a mailed code; only then does the request reach reviewers.

Every sender gets the same answer and a code, whether or not the address or the property is
known, so the form tells no one who has data here. Sending is throttled per address and per
client; a code is kept as a keyed hash, expires, and allows a few tries. The request a code
confirms runs from when the form was sent (D9), names the person of the property's portfolio
with that address when there is one, and waits for a reviewer to approve it (D2).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from keyturn.cloud.auth import opaque, throttle
from keyturn.cloud.db import new_id
from keyturn.cloud.mail.addresses import check_address
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import DataSubjectRequest, Property, PublicRequest, RequestKind
from keyturn.cloud.privacy import requests as workflow
from keyturn.cloud.privacy.errors import (
    RequestNotFound,
    VerificationFailed,
    VerificationThrottled,
)
from keyturn.cloud.privacy.verification import (
    CODE_DIGITS,
    CODE_LIFETIME,
    MAX_ATTEMPTS_PER_CODE,
    code_digest,
)

THROTTLE_SCOPE = "dsar-public"
MAX_FORMS_PER_EMAIL = 3
MAX_FORMS_PER_CLIENT = 10
# The app's page where the mailed code is entered (app_web.privacy_pages).
CONFIRM_PAGE = "/app/data-requests/{request_id}/confirm"
FORM_WINDOW = timedelta(hours=1)


def submit(
    *,
    session: Session,
    master_key: bytes,
    email: str,
    name: str,
    kind: RequestKind,
    property_named: str,
    message: str | None,
    client: str,
    now: datetime,
    public_url: str | None = None,
) -> tuple[PublicRequest, str]:
    """Keep the form and mail its code; the pending request and the code (for tests only).

    Raises InvalidAddress (422) for an address mail cannot go to, Throttled (429) past the
    limits. The form's property is the one whose id or name the sender gave, if exactly one;
    otherwise the request is kept for the operator, who routes it by what the sender wrote.
    With `public_url`, the mail links to the page where the code is entered (CONFIRM_PAGE).
    """
    address = check_address(email)
    throttle.count_attempt(
        session,
        scope=THROTTLE_SCOPE,
        email_digest=opaque.email_digest(address),
        address=client,
        per_account=MAX_FORMS_PER_EMAIL,
        per_address=MAX_FORMS_PER_CLIENT,
        window=FORM_WINDOW,
        now=now,
    )
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    row_id = new_id()
    row = PublicRequest(
        id=row_id,
        kind=kind,
        email=address,
        name=" ".join(name.split()),
        property_id=named_property(session, property_named),
        property_named=" ".join(property_named.split()),
        message=message.strip() if message and message.strip() else None,
        code_digest=code_digest(master_key, row_id, code),
        attempts=0,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(row)
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    enqueue_mail(
        session,
        address,
        "Confirm your Keyturn data request",
        f"Someone sent a request for a {kind.value} of the data held about this address.\n"
        f"To confirm it, enter the code {code} within {minutes} minutes"
        + (
            f" on this page:\n{public_url}{CONFIRM_PAGE.format(request_id=row_id)}\n"
            if public_url
            else ".\n"
        )
        + "If you did not send it, ignore this message: nothing happens without the code.",
    )
    session.flush()
    return row, code


def named_property(session: Session, named: str) -> str | None:
    """The property whose id or name (case and spacing aside) the sender gave, if only one."""
    wanted = " ".join(named.split())
    by_id = session.get(Property, wanted.lower())
    if by_id is not None:
        return by_id.id
    found = session.scalars(
        select(Property.id).where(func.lower(Property.name) == wanted.casefold()).limit(2)
    ).all()
    return found[0] if len(found) == 1 else None


def confirm(
    *, session: Session, master_key: bytes, public_request_id: str, code: str, now: datetime
) -> DataSubjectRequest:
    """Turn a confirmed form into a request in the reviewers' queue, or raise.

    RequestNotFound for an unknown or already confirmed form; VerificationFailed for a wrong
    or expired code (a wrong one is counted, and committed here before the refusal is
    raised); VerificationThrottled once the code's tries are used up, even for the right code.
    """
    row = session.get(PublicRequest, public_request_id)
    if row is None or row.request_id is not None:
        raise RequestNotFound()
    if row.expires_at <= now:
        raise VerificationFailed("the code has expired: send the form again")
    if row.attempts >= MAX_ATTEMPTS_PER_CODE:
        raise VerificationThrottled("too many tries with this code: send the form again")
    expected = code_digest(master_key, row.id, code.strip())
    if not hmac.compare_digest(expected, row.code_digest):
        row.attempts += 1
        session.commit()
        raise VerificationFailed("the code does not match")
    # Spend the code in one conditional UPDATE, so two racing confirmations file one request.
    spent = session.execute(
        update(PublicRequest)
        .where(PublicRequest.id == row.id, PublicRequest.code_digest == expected)
        .values(code_digest="")
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise RequestNotFound()
    note = row.message
    if row.property_id is None:
        note = f"property named: {row.property_named}" + (f"\n{note}" if note else "")
    request = workflow.file_from_form(
        session,
        kind=row.kind,
        email=row.email,
        name=row.name,
        property_id=row.property_id,
        note=note,
        sent_at=row.created_at,
        now=now,
    )
    row.request_id = request.id
    session.flush()
    return request
