"""The errors of provisioning and sync, each with the HTTP status and problem type it maps to.

Locks and phones get the same problem document as every other client (the one Refusal
handler answers them); the CLI prints their message as one line.
"""

from __future__ import annotations

from keyturn.cloud.errors import Refusal


class DeviceError(Refusal):
    """Base of every refusal by the devices domain; nothing was changed when one is raised."""

    status = 400
    kind = "device-error"
    title = "The device request was refused"


class UnknownDeviceModel(DeviceError):
    status = 422
    kind = "unknown-device-model"
    title = "No such lock model"


class UnknownDoor(DeviceError):
    status = 404
    kind = "unknown-door"
    title = "No such door"


class InvalidProvisioningToken(DeviceError):
    """The token is unknown, expired or already used; the three look alike on purpose."""

    status = 403
    kind = "invalid-provisioning-token"
    title = "The provisioning token is not valid"


class ModelMismatch(DeviceError):
    status = 422
    kind = "device-model-mismatch"
    title = "The lock model differs from the one the token was issued for"


class InvalidDeviceKey(DeviceError):
    status = 422
    kind = "invalid-device-key"
    title = "The lock's public key is not a base64url Ed25519 key"


class DoorAlreadyBound(DeviceError):
    status = 409
    kind = "door-already-bound"
    title = "Another lock is bound to this door; retire it first"


class UnknownDevice(DeviceError):
    """No such lock, or it was retired: either way it may not sync."""

    status = 404
    kind = "unknown-device"
    title = "No such lock, or it was retired"


class MalformedFrame(DeviceError):
    status = 400
    kind = "malformed-frame"
    title = "The body is not a Keyturn sync frame"


class UplinkRejected(DeviceError):
    """The frame does not decrypt with the lock's sync key or its signature does not verify."""

    status = 401
    kind = "uplink-rejected"
    title = "The uplink failed its checks"


class InvalidBatch(DeviceError):
    status = 400
    kind = "invalid-batch"
    title = "The uplink batch is inconsistent"
