"""Which lock capability each credential type needs (A2).

The lock refuses a credential its model cannot read; the cloud asks `missing_capability`
before it issues one, so nothing is handed out that no lock at the door could accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from keyturn.rules.types import Capability, CredentialType

# Every doorcode is typed on a keypad; a mechanical key needs a cylinder to be sensed.
NEEDED: Mapping[CredentialType, Capability] = MappingProxyType(
    {
        CredentialType.MOBILE_KEY: Capability.BLE,
        CredentialType.PERSONAL_DOORCODE: Capability.KEYPAD,
        CredentialType.SINGLE_DAY_CODE: Capability.KEYPAD,
        CredentialType.ONE_TIME_CODE: Capability.KEYPAD,
        CredentialType.KEYCARD: Capability.CARD_READER,
        CredentialType.MECHANICAL_KEY: Capability.MECHANICAL_KEY,
    }
)


def missing_capability(
    credential: CredentialType, capabilities: Iterable[Capability]
) -> Capability | None:
    """The capability a lock with `capabilities` lacks to accept `credential`, or None."""
    needed = NEEDED[credential]
    return None if needed in set(capabilities) else needed
