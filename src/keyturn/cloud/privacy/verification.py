"""Proving who asks (D2, D3): a one-time code mailed to the account address plus matching
account details, and documents (agent letter, proof of identity, government ID) sealed at rest.

Codes are kept only as keyed hashes, expire after 15 minutes, and allow five tries each;
at most three codes are mailed per request per day.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import DataSubjectRequest, Person, RequestDocument, VerificationCode
from keyturn.cloud.privacy.errors import (
    InvalidDocument,
    VerificationFailed,
    VerificationThrottled,
)
from keyturn.crypto.sealed import seal, unseal

CODE_DIGITS = 8
CODE_LIFETIME = timedelta(minutes=15)
MAX_ATTEMPTS_PER_CODE = 5
MAX_CODES_PER_DAY = 3
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
# Documents travel as base64 in JSON: the length of the largest document's base64 text.
MAX_DOCUMENT_BASE64 = 4 * -(-MAX_DOCUMENT_BYTES // 3)
DOCUMENT_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
_CODE_KEY_LABEL = b"keyturn/dsar-code/v1"


class DocumentKind(StrEnum):
    AGENT_LETTER = "agent_letter"  # the person's signed authorisation of the agent (D3)
    AGENT_IDENTITY = "agent_identity"  # proof of the agent's identity (D3)
    GOVERNMENT_ID = "government_id"  # the person's ID, when a reviewer asks for it (D2)


def code_digest(master_key: bytes, request_id: str, code: str) -> str:
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_CODE_KEY_LABEL).derive(master_key)
    return hmac.new(key, f"{request_id}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(
    session: Session, master_key: bytes, request: DataSubjectRequest, now: datetime
) -> str:
    """Mail a fresh code to the subject's account address and return it (for tests only).

    Earlier codes of the request stop working; VerificationThrottled after three a day.
    """
    person = session.get(Person, request.person_id)
    if person is None or not person.email:
        raise VerificationFailed("the person has no account address to send a code to")
    sent_today = session.scalar(
        select(func.count(VerificationCode.id)).where(
            VerificationCode.request_id == request.id,
            VerificationCode.created_at > now - timedelta(days=1),
        )
    )
    if (sent_today or 0) >= MAX_CODES_PER_DAY:
        raise VerificationThrottled(f"at most {MAX_CODES_PER_DAY} codes a day")
    for old in session.scalars(
        select(VerificationCode).where(
            VerificationCode.request_id == request.id, VerificationCode.used_at.is_(None)
        )
    ):
        old.used_at = now
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    session.add(
        VerificationCode(
            request_id=request.id,
            code_digest=code_digest(master_key, request.id, code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    enqueue_mail(
        session,
        person.email,
        "Your Keyturn data request code",
        f"Someone asked for a {request.kind.value} of your Keyturn data.\n"
        f"Your verification code is {code}. It works for 15 minutes.\n"
        "If you did not ask for this, ignore this message.",
        person_id=person.id,
    )
    session.flush()
    return code


def check_code(
    session: Session,
    master_key: bytes,
    request: DataSubjectRequest,
    code: str,
    email: str,
    display_name: str,
    now: datetime,
) -> None:
    """Accept the code and the account details or raise; every failed try is counted."""
    current = session.scalars(
        select(VerificationCode)
        .where(VerificationCode.request_id == request.id, VerificationCode.used_at.is_(None))
        .order_by(VerificationCode.created_at.desc())
        .limit(1)
    ).first()
    if current is None or current.expires_at <= now:
        raise VerificationFailed("no live code: ask for a new one")
    if current.attempts >= MAX_ATTEMPTS_PER_CODE:
        raise VerificationThrottled("too many tries with this code: ask for a new one")
    person = session.get(Person, request.person_id)
    expected = code_digest(master_key, request.id, code.strip())
    details_match = (
        person is not None
        and person.email is not None
        and email.strip().lower() == person.email
        and _name(display_name) == _name(person.display_name)
    )
    if not hmac.compare_digest(expected, current.code_digest) or not details_match:
        current.attempts += 1
        session.flush()
        raise VerificationFailed()
    current.used_at = now
    session.flush()


def _name(value: str) -> str:
    return " ".join(value.split()).casefold()


def decode_upload(data_b64: str, content_type: str) -> bytes:
    """The bytes of an uploaded document, or InvalidDocument."""
    if content_type not in DOCUMENT_TYPES:
        raise InvalidDocument(f"send one of {', '.join(sorted(DOCUMENT_TYPES))}")
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDocument("the document is not valid base64") from None
    if not data or len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"a document is 1 byte to {MAX_DOCUMENT_BYTES} bytes")
    return data


def store_document(
    session: Session,
    master_key: bytes,
    request: DataSubjectRequest,
    kind: DocumentKind,
    content_type: str,
    data: bytes,
    now: datetime,
) -> RequestDocument:
    """Seal a document under the master key, bound to its own row, and keep it with the request."""
    document = RequestDocument(
        request_id=request.id,
        kind=kind.value,
        content_type=content_type,
        sealed=b"",
        created_at=now,
    )
    session.add(document)
    session.flush()
    document.sealed = seal(master_key, data, _document_context(document.id))
    session.flush()
    return document


def open_document(master_key: bytes, document: RequestDocument) -> bytes:
    return unseal(master_key, document.sealed, _document_context(document.id))


def _document_context(document_id: str) -> bytes:
    return f"dsar-document:{document_id}".encode()


def has_document(session: Session, request_id: str, kind: DocumentKind) -> bool:
    found = session.scalar(
        select(RequestDocument.id).where(
            RequestDocument.request_id == request_id, RequestDocument.kind == kind.value
        )
    )
    return found is not None


def delete_documents(session: Session, request_id: str) -> None:
    """Drop every document and code of a request; done when it closes."""
    session.execute(
        delete(RequestDocument)
        .where(RequestDocument.request_id == request_id)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        delete(VerificationCode)
        .where(VerificationCode.request_id == request_id)
        .execution_options(synchronize_session="fetch")
    )
