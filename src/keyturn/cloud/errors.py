"""One base for every refusal the API answers, and the whole tree of them.

A Refusal is defined next to the service that raises it, in a module free of the web framework,
and answered by the one handler the app factory installs (`problems.answer_refusal`): its
`status`, the problem `type` PROBLEM_BASE + `kind`, its `title`, and per case a `detail`,
headers and extra members. A Refusal is a UserError too, so the CLI prints it as one line.

Every Refusal, with the module under keyturn.cloud that defines it (tests/cloud/test_errors.py
holds this drawing to the code, both ways):

Refusal ................................ errors
  BadCursor ............................ errors
  InvalidReference ..................... errors
  MissingCapability .................... access.capabilities
  CodeRefused .......................... access.codes
  MobileKeyRefused ..................... access.credentials.mobile_keys
  NoDoorcodeKey ........................ access.credentials.service
  InvalidPhoneKey ...................... access.credentials.service
  NoEmailAddress ....................... access.credentials.service
  NotYours ............................. access.errors
  Unauthenticated ...................... auth.errors
    InvalidCredentials ................. auth.errors
    TotpCodeRequired ................... auth.errors
  Forbidden ............................ auth.errors
    CsrfFailed ......................... auth.errors
    InsufficientScope .................. auth.errors
    TotpRequired ....................... auth.errors
    OwnManagerPowers ................... people.managers.service
  NotFound ............................. auth.errors
  Conflict ............................. auth.errors
    PortfolioManagerPowers ............. people.managers.service
  InvalidLink .......................... auth.errors
  InvalidTotpCode ...................... auth.errors
  PasswordNotConfirmed ................. auth.errors
  Throttled ............................ auth.errors
  DeviceError .......................... devices.errors
    UnknownDeviceModel ................. devices.errors
    UnknownDoor ........................ devices.errors
    InvalidProvisioningToken ........... devices.errors
    ModelMismatch ...................... devices.errors
    InvalidDeviceKey ................... devices.errors
    DoorAlreadyBound ................... devices.errors
    UnknownDevice ...................... devices.errors
    MalformedFrame ..................... devices.errors
    UplinkRejected ..................... devices.errors
    InvalidBatch ....................... devices.errors
  InvalidFilter ........................ history.errors
  PhotoErased .......................... history.errors
  PhotoUnreadable ...................... history.errors
  InvalidMail .......................... mail.errors
    InvalidAddress ..................... mail.errors
    UnsafeHeader ....................... mail.errors
  ConsentRequired ...................... people.consent.check
  InvalidPowers ........................ people.managers.service
  PmsFileRefused ....................... people.pms.connectors
  InvalidLease ......................... people.residency.service
  NoUnitKey ............................ people.residency.service
  Rejected ............................. people.service
  RequestError ......................... privacy.errors
    RequestNotFound .................... privacy.errors
    WrongState ......................... privacy.errors
    VerificationFailed ................. privacy.errors
    VerificationThrottled .............. privacy.errors
    PreconditionsUnmet ................. privacy.errors
    InvalidDocument .................... privacy.errors
    InvalidFiling ...................... privacy.errors
  RetentionOverrideRefused ............. privacy.retention.override
  DoorKindLocked ....................... properties.models
  InvalidPropertySetting ............... properties.models
  SettingsFixedByLocks ................. properties.service
  PrivateWebhookTarget ................. webhooks.service

Errors of layers that know nothing of HTTP are mapped to problems at the edge instead:
`refusals.py` maps the rules core's SelfResidentStatus, ResidentKeyDoor, InvalidGrant,
InvalidSchedule, CodeSpaceExhausted, InvalidDoorcode and any other RuleError, the database's
DatabaseUnavailable and lost connections (503) and IntegrityError (409); `retries.py` answers a
TransientConflict that kept coming back and an exhausted pool (503 `busy`); `auth/http.py`
answers the framework's validation and HTTP errors (422, 404, 405, 413).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyturn.errors import UserError

PROBLEM_BASE = "https://keyturn.invalid/problems/"


class Refusal(UserError):
    """A refusal answered with one problem; subclasses fix `status`, `kind` and `title`.

    `detail` says what went wrong in this case (None when the title says it all); `headers`
    go on the response (Retry-After, WWW-Authenticate); `members` are extra members of the
    problem document (a per-row report, the capability a lock lacks).
    """

    status = 400
    kind = "bad-request"
    title = "The request cannot be processed"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        members: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.members = dict(members or {})


class BadCursor(Refusal):
    """A pagination cursor that this service did not issue (any list, history's included)."""

    status = 400
    kind = "bad-cursor"
    title = "The cursor is not one this service issued"


class InvalidReference(Refusal):
    """The body names an object that does not exist at this property (or at all)."""

    status = 422
    kind = "unknown-reference"
    title = "The request names something that does not exist here"
