"""Every table of the cloud service, imported in one place: the model layer.

Code outside the per-domain models modules imports ORM classes from here, never from a
domain's models module, so that whatever imports a model has every mapper registered (a
relationship to another domain's class resolves, and `Base.metadata` has every table).
Importing a model registers no session listener and imports no web framework; the flush
checks are installed on the cloud's session class in keyturn.cloud.sessions.
"""

from __future__ import annotations

from keyturn.cloud.access.models import (
    AccessRevision,
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
from keyturn.cloud.history.models import (
    CREDENTIAL_ID_LENGTH,
    EVENT_DETAIL_LENGTH,
    EVENT_KIND_LENGTH,
    LOCK_PHOTO_ID_LENGTH,
    Event,
    LogGap,
    Photo,
)
from keyturn.cloud.mail.models import (
    MailState,
    MailSuppression,
    OutboxMessage,
)
from keyturn.cloud.people.models import (
    Account,
    Person,
    PmsLink,
    PmsReview,
    Profile,
    ReviewState,
    RoleMembership,
    RolePermission,
)
from keyturn.cloud.privacy.models import (
    AuditRecord,
    DataSubjectRequest,
    LockPurge,
    PublicRequest,
    RecordHold,
    RequestDocument,
    RequestKind,
    RequestState,
    ReviewerNotice,
    VerificationCode,
)
from keyturn.cloud.properties.models import (
    MAX_DOORCODE_LENGTH,
    MIN_DOORCODE_LENGTH,
    Door,
    DoorKindLocked,
    InvalidPropertySetting,
    Portfolio,
    Property,
    Unit,
)
from keyturn.cloud.webhooks.models import (
    DESCRIPTION_LENGTH,
    ERROR_LENGTH,
    URL_LENGTH,
    WebhookDelivery,
    WebhookSubscription,
)

metadata = Base.metadata

__all__ = [
    "CREDENTIAL_ID_LENGTH",
    "DESCRIPTION_LENGTH",
    "ERROR_LENGTH",
    "EVENT_DETAIL_LENGTH",
    "EVENT_KIND_LENGTH",
    "LOCK_PHOTO_ID_LENGTH",
    "MAX_DOORCODE_LENGTH",
    "MIN_DOORCODE_LENGTH",
    "URL_LENGTH",
    "AccessListVersion",
    "AccessRevision",
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
    "LockPurge",
    "LogGap",
    "LoginFailure",
    "MailState",
    "MailSuppression",
    "ManagedKey",
    "MobileKeyRegistration",
    "OneTimeCode",
    "OutboxMessage",
    "Person",
    "Photo",
    "PmsLink",
    "PmsReview",
    "Portfolio",
    "Profile",
    "Property",
    "ProvisioningToken",
    "PublicRequest",
    "RecordHold",
    "RequestDocument",
    "RequestKind",
    "RequestState",
    "ReviewState",
    "ReviewerNotice",
    "RoleMembership",
    "RolePermission",
    "SingleDayCode",
    "TotpFactor",
    "Unit",
    "VerificationCode",
    "WebhookDelivery",
    "WebhookSubscription",
    "key_doors",
    "metadata",
]
