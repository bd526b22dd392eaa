"""Typed vocabulary of the product, shared by the rules, the lock, the protocol and the cloud.

Values are the stable strings stored in databases and sent over the wire.
"""

from __future__ import annotations

from enum import StrEnum


class DoorKind(StrEnum):
    RESIDENCE = "residence"
    ENTRANCE = "entrance"
    COMMON = "common"
    SERVICE = "service"


class CredentialType(StrEnum):
    """What was presented at the door; doorcodes are split by how they were issued."""

    MOBILE_KEY = "mobile_key"
    PERSONAL_DOORCODE = "personal_doorcode"
    SINGLE_DAY_CODE = "single_day_code"
    ONE_TIME_CODE = "one_time_code"
    KEYCARD = "keycard"
    MECHANICAL_KEY = "mechanical_key"

    @property
    def is_doorcode(self) -> bool:
        return self in _DOORCODES


_DOORCODES = frozenset(
    {
        CredentialType.PERSONAL_DOORCODE,
        CredentialType.SINGLE_DAY_CODE,
        CredentialType.ONE_TIME_CODE,
    }
)


class Reason(StrEnum):
    """Why a lock granted or denied an attempt; one code per decision."""

    GRANTED = "granted"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    WRONG_DOOR = "wrong_door"
    OUTSIDE_SCHEDULE = "outside_schedule"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    KEYPAD_LOCKED_OUT = "keypad_locked_out"
    LOCKDOWN = "lockdown"


class Role(StrEnum):
    """A person's role at one property."""

    PORTFOLIO_MANAGER = "portfolio_manager"
    PROPERTY_MANAGER = "property_manager"
    STAFF = "staff"
    RESIDENT = "resident"
    GUEST = "guest"
    SERVICE_PROVIDER = "service_provider"
    COURIER = "courier"

    @property
    def is_manager(self) -> bool:
        return self in (Role.PORTFOLIO_MANAGER, Role.PROPERTY_MANAGER)


class Permission(StrEnum):
    """Extra powers a property manager may hold."""

    KEYS_FULL = "keys_full"
    KEYS_LIMITED = "keys_limited"
    KEYS_SPECIFIC = "keys_specific"
    DEVICE_MANAGEMENT = "device_management"
    SECURITY_VIEWER = "security_viewer"


class Capability(StrEnum):
    """What a lock model has; declared per model, never guessed."""

    CAMERA = "camera"
    KEYPAD = "keypad"
    CARD_READER = "card_reader"
    BLE = "ble"
    MECHANICAL_KEY = "mechanical_key"
