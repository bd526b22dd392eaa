"""The suppression list: addresses that must never receive mail again, such as a deleted
person's (RULES D5), kept only as keyed hashes so the clear address is not stored.

The hash key is derived from the master key; rotating the master key therefore needs the
list re-hashed from addresses nobody keeps, so a rotation must carry this key forward.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, cast

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud.db import utcnow
from keyturn.cloud.mail.addresses import normalise_address
from keyturn.cloud.models import MailSuppression, OutboxMessage

SUPPRESSION_KEY_LABEL = b"keyturn/mail-suppression/v1"
SUPPRESSION_KEY_BYTES = 32
# Where enqueue_mail finds the hash key: Session.info, filled by use_suppression_key.
SUPPRESSION_KEY_INFO = "keyturn.mail.suppression_key"


def suppression_key(master_key: bytes) -> bytes:
    """The key of the suppression hashes: HKDF-SHA256 of the master key, for this use only."""
    return HKDF(
        algorithm=SHA256(), length=SUPPRESSION_KEY_BYTES, salt=None, info=SUPPRESSION_KEY_LABEL
    ).derive(master_key)


def address_hash(key: bytes, address: str) -> str:
    """HMAC-SHA256 of the normalised address under the suppression key, in hex."""
    normalised = normalise_address(address)
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


def use_suppression_key(target: Session | sessionmaker[Session], master_key: bytes) -> None:
    """Let enqueue_mail check the list at once for sessions of this factory (or this session).

    Without it a suppressed message is still caught, by deliver_pending, before any send.
    """
    key = suppression_key(master_key)
    if isinstance(target, Session):
        target.info[SUPPRESSION_KEY_INFO] = key
    else:
        target.configure(info={**target.kw.get("info", {}), SUPPRESSION_KEY_INFO: key})


def suppress(session: Session, master_key: bytes, address: str) -> int:
    """Put the address on the list and delete every outbox message addressed to it.

    Queued messages would otherwise still go out and sent ones still hold the clear address;
    returns how many were deleted. Idempotent; the caller commits.
    """
    if not normalise_address(address):
        raise ValueError("cannot suppress an empty address")
    digest = address_hash(suppression_key(master_key), address)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(MailSuppression)
        .values(address_hash=digest, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["address_hash"])
    )
    removed = cast(
        CursorResult[Any],
        session.execute(
            delete(OutboxMessage)
            .where(func.lower(func.trim(OutboxMessage.to_address)) == normalise_address(address))
            .execution_options(synchronize_session="fetch")
        ),
    )
    return int(removed.rowcount)


def is_suppressed(session: Session, master_key: bytes, address: str) -> bool:
    """Whether the address is on the suppression list (compared after normalising)."""
    return bool(suppressed_hashes(session, suppression_key(master_key), [address]))


def suppressed_hashes(session: Session, key: bytes, addresses: Iterable[str]) -> set[str]:
    """The hashes of those addresses that are on the list, looked up in one query."""
    digests = {address_hash(key, address) for address in addresses}
    if not digests:
        return set()
    found = session.scalars(
        select(MailSuppression.address_hash).where(MailSuppression.address_hash.in_(digests))
    )
    return set(found)
