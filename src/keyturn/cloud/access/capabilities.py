"""The check that a door's lock can read a credential before the cloud issues one (A2).

Issuing services call `require_capability`; the rule itself is `missing_capability`. A door
with no lock bound (or only a retired one) is not checked: nothing is known to refuse yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from keyturn.cloud.errors import Refusal
from keyturn.cloud.models import Door
from keyturn.rules.capabilities import missing_capability
from keyturn.rules.types import Capability, CredentialType


class MissingCapability(Refusal):
    """The door's lock model cannot read the credential asked for; nothing was issued."""

    status = 409
    kind = "missing-capability"
    title = "The door's lock cannot read this credential"

    def __init__(self, capability: Capability, *, door_ids: Sequence[str], per_door: bool) -> None:
        """`per_door`: one door was asked for (`door_id`), else the person's doors (`door_ids`)."""
        where = {"door_id": door_ids[0]} if per_door else {"door_ids": list(door_ids)}
        super().__init__(
            f"no lock at door {', '.join(door_ids)} has a {capability.value}",
            members={"capability": capability.value, **where},
        )


def lacking(door: Door, credential: CredentialType) -> Capability | None:
    """What the door's bound, unretired lock lacks to read `credential`; None if no lock."""
    device = door.device
    if device is None or device.retired_at is not None:
        return None
    return missing_capability(credential, (Capability(item) for item in device.model.capabilities))


def require_capability(door: Door, credential: CredentialType) -> None:
    """Raise MissingCapability (409) if the door's lock cannot read `credential`."""
    missing = lacking(door, credential)
    if missing is not None:
        raise MissingCapability(missing, door_ids=[door.id], per_door=True)


def require_capability_somewhere(doors: Sequence[Door], credential: CredentialType) -> None:
    """Raise MissingCapability unless at least one door could read `credential`.

    For credentials held per property (keycards): refused only when every door is bound to a
    lock that lacks the capability; no doors at all, or any door without a lock, allows it.
    """
    missing = {lacking(door, credential) for door in doors}
    if doors and None not in missing:
        (capability,) = missing
        assert capability is not None
        door_ids = sorted(door.id for door in doors)
        raise MissingCapability(capability, door_ids=door_ids, per_door=False)
