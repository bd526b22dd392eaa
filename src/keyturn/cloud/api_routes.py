"""The API's routers, included in the app as one that a request outside /api/ skips at once.

The app matches a request against its routes in order, the API's first: without this, every
page of a front end (/portal, /app) was tried against each of the API's hundred-odd routes.
Every route of these routers lies under `API_PREFIX` (tests/cloud/test_api_routes.py).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope

from keyturn.cloud.access.credentials import views as credential_views
from keyturn.cloud.access.explain import views as explain_views
from keyturn.cloud.access.keys import views as key_views
from keyturn.cloud.access.sharing import views as sharing_views
from keyturn.cloud.access.suspension import views as suspension_views
from keyturn.cloud.devices import views as devices_views
from keyturn.cloud.history import views as history_views
from keyturn.cloud.people import views as people_views
from keyturn.cloud.people.residency import views as residency_views
from keyturn.cloud.privacy import views as privacy_views
from keyturn.cloud.privacy.audit_record import views as audit_record_views
from keyturn.cloud.privacy.public import views as public_request_views
from keyturn.cloud.privacy.retention import views as retention_views
from keyturn.cloud.properties import views as properties_views
from keyturn.cloud.webhooks import views as webhooks_views

API_PREFIX = "/api/"
# In the order a request is matched against them.
VIEWS = (
    devices_views,
    history_views,
    webhooks_views,
    retention_views,
    privacy_views,
    audit_record_views,
    public_request_views,
    properties_views,
    people_views,
    residency_views,
    suspension_views,
    key_views,
    credential_views,
    sharing_views,
    explain_views,
)


class ApiRouters(APIRouter):
    """Routers under `API_PREFIX`: a path elsewhere matches none of them, without trying each."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope["path"].removeprefix(scope.get("root_path", ""))
        if not path.startswith(API_PREFIX):
            return Match.NONE, {}
        return super().matches(scope)


def api_routers() -> ApiRouters:
    """Every domain's API router, as one router for the app to include."""
    api = ApiRouters()
    for views in VIEWS:
        api.include_router(views.router)
    return api
