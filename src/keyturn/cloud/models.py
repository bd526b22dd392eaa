"""Every table of the cloud service, imported in one place.

Import this module before using `Base.metadata` (Alembic, create_all) so that no domain's
tables are missing.
"""

from __future__ import annotations

from keyturn.cloud.access.models import (
    Doorcode,
    Grant,
    GrantKind,
    Key,
    Keycard,
    ManagedKey,
    MobileKeyRegistration,
    OneTimeCode,
    SingleDayCode,
    key_doors,
)
from keyturn.cloud.auth.models import (
    ApiToken,
    AuthSession,
    EmailLink,
    LinkPurpose,
    LoginFailure,
    TotpFactor,
)
from keyturn.cloud.db import Base
from keyturn.cloud.devices.models import (
    AccessListVersion,
    Device,
    DeviceModel,
    ProvisioningToken,
)
from keyturn.cloud.history.models import Event, LogGap, Photo
from keyturn.cloud.mail.models import OutboxMessage
from keyturn.cloud.people.models import (
    Account,
    Person,
    Profile,
    RoleMembership,
    RolePermission,
)
from keyturn.cloud.privacy.models import (
    AuditRecord,
    DataSubjectRequest,
    RequestKind,
    RequestState,
)
from keyturn.cloud.properties.models import (
    Door,
    DoorKindLocked,
    InvalidPropertySetting,
    Portfolio,
    Property,
    Unit,
)
from keyturn.cloud.webhooks.models import WebhookDelivery, WebhookSubscription

metadata = Base.metadata

__all__ = [
    "AccessListVersion",
    "Account",
    "ApiToken",
    "AuditRecord",
    "AuthSession",
    "Base",
    "DataSubjectRequest",
    "Device",
    "DeviceModel",
    "Door",
    "DoorKindLocked",
    "Doorcode",
    "EmailLink",
    "Event",
    "Grant",
    "GrantKind",
    "InvalidPropertySetting",
    "Key",
    "Keycard",
    "LinkPurpose",
    "LogGap",
    "LoginFailure",
    "ManagedKey",
    "MobileKeyRegistration",
    "OneTimeCode",
    "OutboxMessage",
    "Person",
    "Photo",
    "Portfolio",
    "Profile",
    "Property",
    "ProvisioningToken",
    "RequestKind",
    "RequestState",
    "RoleMembership",
    "RolePermission",
    "SingleDayCode",
    "TotpFactor",
    "Unit",
    "WebhookDelivery",
    "WebhookSubscription",
    "key_doors",
    "metadata",
]
