"""Webhook subscriptions and the delivery queue: create, list, delete, and enqueue at ingest.

A subscription sees the property as its creator does in their manager role (V3, V4), never
through a resident's eyes: residents' own entries at their residence doors are not queued.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.db import new_id
from keyturn.cloud.errors import Refusal
from keyturn.cloud.history.schemas import event_facts
from keyturn.cloud.history.visibility import viewer_for
from keyturn.cloud.models import (
    URL_LENGTH,
    Device,
    Door,
    Event,
    WebhookDelivery,
    WebhookSubscription,
)
from keyturn.cloud.privacy import audit
from keyturn.cloud.webhooks.egress import literal_is_private
from keyturn.crypto.sealed import seal, unseal
from keyturn.rules.visibility import Viewer, can_view_event

SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret
LOOPBACK_HOSTS = frozenset({"localhost"})


class PrivateWebhookTarget(Refusal):
    """A webhook URL into this server's own network, which the operator has not allowed."""

    status = 422
    kind = "webhook-private-target"
    title = "Webhooks only post to public addresses"


class InvalidWebhookUrl(ValueError):
    """A URL webhooks will not post to: not https, or carrying credentials."""


def check_url(url: str) -> str:
    """The URL if webhooks may post to it: https, or plain http to this machine only.

    Plain http is allowed for localhost and loopback addresses so tests and local bridges
    need no certificate; credentials in the URL are refused as they would rest in clear.
    """
    if len(url) > URL_LENGTH:
        raise InvalidWebhookUrl(f"the URL is longer than {URL_LENGTH} characters")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidWebhookUrl("the URL must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("the URL must not carry a user name or password")
    if parts.scheme == "http" and not _is_loopback(host):
        raise InvalidWebhookUrl("use https://; plain http is only allowed to localhost")
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def secret_context(subscription_id: str) -> bytes:
    return f"webhook:{subscription_id}".encode()


def create_subscription(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    url: str,
    description: str | None,
    now: datetime,
    allow_private: bool,
) -> tuple[WebhookSubscription, str]:
    """Store a subscription and return it with its signing secret, which is never shown again;
    the creation is audited.

    Without allow_private, a host that is plainly not public (localhost, a private or
    link-local address) is refused at once; names are checked at each delivery (egress.py).
    """
    host = urlsplit(url).hostname or ""
    if not allow_private and literal_is_private(host):
        raise PrivateWebhookTarget(
            f"{host} is not a public address; set KEYTURN_WEBHOOK_PRIVATE_TARGETS=true to allow"
            " webhooks into this server's own network"
        )
    subscription_id = new_id()
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    subscription = WebhookSubscription(
        id=subscription_id,
        property_id=property_id,
        created_by=person_id,
        url=check_url(url),
        description=description,
        secret_sealed=seal(master_key, secret.encode(), secret_context(subscription_id)),
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    _audit(session, subscription, "webhook.create", person_id, now)
    return subscription, secret


def _audit(
    session: Session, subscription: WebhookSubscription, action: str, actor_id: str, now: datetime
) -> None:
    audit.record(
        session,
        now=now,
        actor_person_id=actor_id,
        action=action,
        object_type="webhook_subscription",
        object_id=subscription.id,
        property_id=subscription.property_id,
        detail={"url": subscription.url},
    )


def subscription_secret(master_key: bytes, subscription: WebhookSubscription) -> bytes:
    return unseal(master_key, subscription.secret_sealed, secret_context(subscription.id))


def list_subscriptions(
    *, session: Session, property_id: str, after: str | None, limit: int
) -> tuple[Sequence[WebhookSubscription], str | None]:
    """One page of the property's subscriptions in id order, and the cursor for the next."""
    query = select(WebhookSubscription).where(WebhookSubscription.property_id == property_id)
    if after is not None:
        query = query.where(WebhookSubscription.id > after)
    rows = session.scalars(query.order_by(WebhookSubscription.id).limit(limit + 1)).all()
    shown = rows[:limit]
    return shown, shown[-1].id if len(rows) > limit and shown else None


def delete_subscription(
    *, session: Session, property_id: str, subscription_id: str, deleted_by: str, now: datetime
) -> None:
    """Stop a subscription of this property (404 for another's); its queued deliveries go
    with it, and the deletion is audited."""
    found = session.get(WebhookSubscription, subscription_id)
    if found is None or found.property_id != property_id:
        raise NotFound()
    session.delete(found)
    _audit(session, found, "webhook.delete", deleted_by, now)
    session.flush()


def subscriber_viewer(
    session: Session, subscription: WebhookSubscription, now: datetime
) -> Viewer | None:
    """What the subscription may carry: its creator's manager view of the property, or None
    once the creator no longer manages it; resident-door powers are left out on purpose."""
    viewer = viewer_for(session, subscription.created_by, now)
    if subscription.property_id not in viewer.managed_property_ids:
        return None
    here = frozenset({subscription.property_id})
    return Viewer(
        person_id=subscription.created_by,
        managed_property_ids=here,
        security_viewer_property_ids=viewer.security_viewer_property_ids & here,
    )


def enqueue_event_deliveries(session: Session, events: Iterable[Event], now: datetime) -> int:
    """Queue each event for every subscription of its property whose manager may see it.

    Call it in the ingest transaction with the events just stored; an event queued before
    for a subscription is skipped, so replays queue nothing twice. Returns the rows queued.
    """
    by_property: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_property[event.property_id].append(event)
    if not by_property:
        return 0
    subscriptions = session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.property_id.in_(sorted(by_property)))
    ).all()
    rows: list[dict[str, Any]] = []
    for subscription in subscriptions:
        viewer = subscriber_viewer(session, subscription, now)
        if viewer is None:
            continue
        rows.extend(
            _delivery_row(subscription.id, event.id, now)
            for event in by_property[subscription.property_id]
            if can_view_event(viewer, event_facts(event))
        )
    if rows:
        session.execute(_insert_new(session), rows)
    return len(rows)


def enqueue_device_events(
    session: Session, device_id: str, seqs: Sequence[int], now: datetime
) -> int:
    """`enqueue_event_deliveries` for the entries of one lock that ingest just stored."""
    if not seqs:
        return 0
    # Most properties have no webhooks: ask that before loading the entries just stored.
    subscribed = session.scalar(
        select(WebhookSubscription.id)
        .join(Door, Door.property_id == WebhookSubscription.property_id)
        .join(Device, Device.door_id == Door.id)
        .where(Device.id == device_id)
        .limit(1)
    )
    if subscribed is None:
        return 0
    events = session.scalars(
        select(Event).where(Event.device_id == device_id, Event.device_seq.in_(sorted(seqs)))
    ).all()
    return enqueue_event_deliveries(session, events, now)


def _delivery_row(subscription_id: str, event_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "subscription_id": subscription_id,
        "event_id": event_id,
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_at": None,
        "abandoned_at": None,
        "last_status": None,
        "last_error": None,
        "created_at": now,
    }


def _insert_new(session: Session) -> Any:
    """An INSERT of deliveries that skips (subscription, event) pairs already queued."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(WebhookDelivery.__table__).on_conflict_do_nothing(
        index_elements=["subscription_id", "event_id"]
    )
