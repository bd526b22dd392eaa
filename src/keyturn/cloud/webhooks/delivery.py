"""Sending queued webhook deliveries: signed JSON POSTs, retried with exponential backoff.

Delivery is at least once (a crash between the POST and its record sends it again), so each
body carries its delivery id; a delivery the subscriber may no longer see is dropped unsent.
Each sender claims what it sends first, so two servers sharing a database do not both send it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from keyturn import __version__
from keyturn.cloud.history.schemas import event_facts, event_out
from keyturn.cloud.models import ERROR_LENGTH, Event, WebhookDelivery, WebhookSubscription
from keyturn.cloud.privacy import audit
from keyturn.cloud.webhooks.service import subscriber_viewer, subscription_secret
from keyturn.rules.visibility import Viewer, can_view_event

SIGNATURE_HEADER = "X-Keyturn-Signature"
DELIVERY_HEADER = "X-Keyturn-Delivery"
EVENT_TYPE = "door.event"
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
TIMEOUT_S = 10.0
BATCH = 100
# A claimed delivery is due again after this long, should its sender die before recording it.
CLAIM_DURATION = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one run of the sender did."""

    delivered: int = 0
    retrying: int = 0
    abandoned: int = 0


@dataclass(frozen=True, slots=True)
class _Outgoing:
    delivery_id: str
    url: str
    secret: bytes
    body: bytes


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 30 s, doubling, at most 6 h."""
    return min(FIRST_RETRY * (1 << (attempts - 1)), LONGEST_RETRY)


def deliver_webhooks(
    session_factory: Callable[[], Session],
    master_key: bytes,
    now: datetime,
    client: httpx.Client,
    *,
    batch: int = BATCH,
) -> DeliveryReport:
    """Send the deliveries due at `now` and record each outcome; call it from a job loop."""
    with session_factory() as session:
        outgoing, dropped = _prepare(session, master_key, now, batch)
        session.commit()
    results = {item.delivery_id: _post(client, item, now) for item in outgoing}
    delivered = retrying = abandoned = 0
    with session_factory() as session:
        for delivery_id, (status, error) in results.items():
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:  # its subscription or event was deleted meanwhile
                continue
            delivery.attempts += 1
            delivery.last_status = status
            delivery.last_error = error[:ERROR_LENGTH] if error else None
            if error is None:
                delivery.delivered_at = now
                _audit_disclosure(session, delivery, now)
                delivered += 1
            elif delivery.attempts >= MAX_ATTEMPTS:
                delivery.abandoned_at = now
                abandoned += 1
            else:
                delivery.next_attempt_at = now + retry_delay(delivery.attempts)
                retrying += 1
        session.commit()
    return DeliveryReport(delivered, retrying, abandoned + dropped)


def _prepare(
    session: Session, master_key: bytes, now: datetime, batch: int
) -> tuple[list[_Outgoing], int]:
    """Claim due deliveries and build their bodies; drop those no longer visible."""
    pick = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.abandoned_at.is_(None),
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    due = [d for d in session.scalars(pick).all() if _claim(session, d, now)]
    viewers: dict[str, Viewer | None] = {}
    outgoing: list[_Outgoing] = []
    dropped = 0
    for delivery in due:
        subscription = session.get_one(WebhookSubscription, delivery.subscription_id)
        if subscription.id not in viewers:
            viewers[subscription.id] = subscriber_viewer(session, subscription, now)
        viewer = viewers[subscription.id]
        event = session.get_one(Event, delivery.event_id)
        if viewer is None or not can_view_event(viewer, event_facts(event)):
            delivery.abandoned_at = now
            delivery.last_error = "the subscriber may no longer see this event"
            dropped += 1
            continue
        outgoing.append(
            _Outgoing(
                delivery_id=delivery.id,
                url=subscription.url,
                secret=subscription_secret(master_key, subscription),
                body=_body(delivery, event, viewer, now),
            )
        )
    return outgoing, dropped


def _claim(session: Session, delivery: WebhookDelivery, now: datetime) -> bool:
    """Move the delivery's next attempt past this send, unless another sender did first."""
    claimed = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.next_attempt_at == delivery.next_attempt_at,
            WebhookDelivery.delivered_at.is_(None),
        )
        .values(next_attempt_at=now + CLAIM_DURATION)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], claimed).rowcount == 1


def _body(delivery: WebhookDelivery, event: Event, viewer: Viewer, now: datetime) -> bytes:
    payload: dict[str, Any] = {
        "id": delivery.id,
        "type": EVENT_TYPE,
        "property_id": event.property_id,
        "sent_at": now.isoformat(),
        "event": event_out(event, viewer).model_dump(mode="json"),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _post(client: httpx.Client, item: _Outgoing, now: datetime) -> tuple[int | None, str | None]:
    """POST one body; (status, None) on a 2xx answer, else (status or None, why)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Keyturn-Webhooks/{__version__}",
        DELIVERY_HEADER: item.delivery_id,
        SIGNATURE_HEADER: signature(item.secret, int(now.timestamp()), item.body),
    }
    try:
        answer = client.post(
            item.url, content=item.body, headers=headers, timeout=TIMEOUT_S, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= answer.status_code < 300:
        return answer.status_code, None
    return answer.status_code, f"the receiver answered {answer.status_code}"


def _audit_disclosure(session: Session, delivery: WebhookDelivery, now: datetime) -> None:
    """A delivered event left the service: that disclosure is audited like a read (V6)."""
    subscription = session.get_one(WebhookSubscription, delivery.subscription_id)
    audit.record(
        session,
        now=now,
        actor_person_id=subscription.created_by,
        action="webhook.deliver",
        object_type="event",
        object_id=delivery.event_id,
        property_id=subscription.property_id,
        detail={"subscription_id": subscription.id, "delivery_id": delivery.id},
    )
