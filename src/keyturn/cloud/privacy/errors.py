"""Refusals of the data-subject request workflow, each one problem type for the API.

Like every Refusal they are UserErrors, so `keyturn dsar` prints them as one line.
"""

from __future__ import annotations

from keyturn.cloud.errors import Refusal


class RequestError(Refusal):
    """Base of every refusal of the request workflow."""

    status = 409
    kind = "dsar-refused"
    title = "The data-subject request cannot do this now"


class RequestNotFound(RequestError):
    status = 404
    kind = "not-found"
    title = "No such resource"


class WrongState(RequestError):
    """The step does not apply to a request in its current state."""

    kind = "dsar-wrong-state"
    title = "The request is not in a state where this step applies"


class VerificationFailed(RequestError):
    """The code or the account details do not match; the attempt was counted."""

    status = 422
    kind = "dsar-verification-failed"
    title = "The verification code or account details do not match"


class VerificationThrottled(RequestError):
    status = 429
    kind = "dsar-throttled"
    title = "Too many verification attempts or codes; try again later"


class PreconditionsUnmet(RequestError):
    """Deletion waits until the person holds no access and no manager role (D4)."""

    kind = "dsar-preconditions"
    title = "Remove the person's access before deleting their data"

    def __init__(self, blockers: list[str]) -> None:
        super().__init__("; ".join(blockers))
        self.blockers = blockers


class InvalidDocument(RequestError):
    status = 422
    kind = "dsar-invalid-document"
    title = "The uploaded document is not acceptable"


class InvalidFiling(RequestError):
    """A reviewer's filing for someone who wrote or phoned is incomplete or impossible."""

    status = 422
    kind = "dsar-invalid-filing"
    title = "The request cannot be filed as given"
