"""Request and response bodies of the webhook routes, strict about unknown fields.

The URL is checked here (https, or http to localhost only), so a bad one is a 422 that
names the field; the signing secret appears in exactly one response, the creation's.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from pydantic.config import JsonDict

from keyturn.cloud.fields import example_config, strict_config
from keyturn.cloud.models import DESCRIPTION_LENGTH, URL_LENGTH
from keyturn.cloud.webhooks.service import InvalidWebhookUrl, check_url

_SUBSCRIPTION_EXAMPLE: JsonDict = {
    "id": "5f0c2a1e-8b7d-4e3f-9a6b-2c1d0e9f8a7b",
    "url": "https://hooks.example.org/keyturn",
    "description": "Front desk dashboard",
    "created_at": "2026-03-02T14:00:00Z",
}


class WebhookCreate(BaseModel):
    """A URL to receive the property's door events, signed with a secret made for it."""

    model_config = strict_config(
        {"url": "https://hooks.example.org/keyturn", "description": "Front desk dashboard"}
    )

    url: str = Field(
        max_length=URL_LENGTH,
        description="https:// URL; plain http only to localhost or a loopback address",
    )
    description: str | None = Field(default=None, max_length=DESCRIPTION_LENGTH)

    @field_validator("url")
    @classmethod
    def _usable(cls, value: str) -> str:
        try:
            return check_url(value)
        except InvalidWebhookUrl as exc:
            raise ValueError(str(exc)) from None


class WebhookOut(BaseModel):
    model_config = example_config(_SUBSCRIPTION_EXAMPLE)

    id: str
    url: str
    description: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    """The new subscription with its signing secret, shown this once and never again."""

    model_config = example_config({**_SUBSCRIPTION_EXAMPLE, "secret": "whsec_3q2-7wEXAMPLEonlyk9x"})

    secret: str = Field(description="Verify X-Keyturn-Signature with it; it is never shown again")


class WebhookPage(BaseModel):
    model_config = example_config({"items": [_SUBSCRIPTION_EXAMPLE], "next_cursor": None})

    items: list[WebhookOut]
    next_cursor: str | None
