"""Secrets of properties and doors: the one place that knows how they are sealed at rest.

Each secret is sealed under the master key with its row's id as context, so a sealed value
copied to another row fails to open.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from keyturn.cloud.properties.models import Door, Property
from keyturn.crypto.codes import door_secret
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.sealed import seal, unseal


def _authority_context(property_id: str) -> bytes:
    return f"authority:{property_id}".encode()


def _door_context(door_id: str) -> bytes:
    return f"door-secret:{door_id}".encode()


def give_authority(prop: Property, master_key: bytes) -> SigningKeyPair:
    """Generate the property's authority key pair and store it (the property needs an id)."""
    authority = SigningKeyPair.generate()
    prop.authority_public_key = authority.public_bytes()
    prop.authority_private_key_sealed = seal(
        master_key, authority.private_bytes(), _authority_context(prop.id)
    )
    return authority


def authority_of(session: Session, master_key: bytes, property_id: str) -> SigningKeyPair:
    prop = session.get(Property, property_id)
    if prop is None:
        raise LookupError(f"no property {property_id}")
    private = unseal(master_key, prop.authority_private_key_sealed, _authority_context(prop.id))
    return SigningKeyPair.from_private_bytes(private)


def give_door_secret(door: Door, master_key: bytes) -> None:
    """Generate the door's secret and store it sealed (the door needs an id)."""
    door.secret_sealed = seal(master_key, door_secret(), _door_context(door.id))


def door_secret_of(door: Door, master_key: bytes) -> bytes:
    return unseal(master_key, door.secret_sealed, _door_context(door.id))
