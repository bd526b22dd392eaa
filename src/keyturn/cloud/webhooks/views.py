"""HTTP routes for a property's webhook subscriptions: subscribe, list and delete.

Only managers of the property reach them (webhooks.manage); each change is audited, and
another property's subscription answers 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from keyturn.cloud.auth.deps import AppSettings, Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import WebhookSubscription
from keyturn.cloud.problems import GUARDED
from keyturn.cloud.webhooks import service
from keyturn.cloud.webhooks.schemas import WebhookCreate, WebhookCreated, WebhookOut, WebhookPage

ID_MAX = 64
MAX_PAGE = 100

router = APIRouter(prefix="/api/v1", tags=["webhooks"], responses=GUARDED)

Manager = Annotated[Principal, requires(Action.WEBHOOKS_MANAGE)]


def _out(subscription: WebhookSubscription) -> WebhookOut:
    return WebhookOut(
        id=subscription.id,
        url=subscription.url,
        description=subscription.description,
        created_at=subscription.created_at,
    )


@router.post("/properties/{property_id}/webhooks", status_code=201, response_model=WebhookCreated)
def create_webhook(
    property_id: str,
    body: WebhookCreate,
    principal: Manager,
    db: Db,
    now: Now,
    master_key: MasterKey,
    settings: AppSettings,
) -> WebhookCreated:
    """Subscribe a URL to the property's door events; the secret is in this answer only.

    Each delivery is a JSON POST signed in `X-Keyturn-Signature: t=<unix>,v1=<hex>`, the
    HMAC-SHA256 of "<t>.<body>" under the secret, and holds only what you may see.
    """
    subscription, secret = service.create_subscription(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=principal.person_id,
        url=body.url,
        description=body.description,
        now=now,
        allow_private=settings.webhook_private_targets,
    )
    db.commit()
    return WebhookCreated(**_out(subscription).model_dump(), secret=secret)


@router.get("/properties/{property_id}/webhooks", response_model=WebhookPage)
def list_webhooks(
    property_id: str,
    principal: Manager,
    db: Db,
    cursor: Annotated[str | None, Query(max_length=ID_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> WebhookPage:
    """The property's subscriptions, oldest id first; secrets are never listed."""
    rows, next_cursor = service.list_subscriptions(
        session=db, property_id=property_id, after=cursor, limit=limit
    )
    return WebhookPage(items=[_out(row) for row in rows], next_cursor=next_cursor)


@router.delete(
    "/properties/{property_id}/webhooks/{webhook_id}", status_code=204, response_class=Response
)
def delete_webhook(
    property_id: str,
    webhook_id: Annotated[str, Path(max_length=ID_MAX)],
    principal: Manager,
    db: Db,
    now: Now,
) -> Response:
    """Stop a subscription; deliveries still queued for it are dropped with it."""
    service.delete_subscription(
        session=db,
        property_id=property_id,
        subscription_id=webhook_id,
        deleted_by=principal.person_id,
        now=now,
    )
    db.commit()
    return Response(status_code=204)
