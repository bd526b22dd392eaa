"""The JSON body of the provisioning route; a lock's health is the service's DeviceHealth.

The DoorConfig answer and the sync frames are msgpack and sealed bytes, not JSON.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProvisionRequest(BaseModel):
    """What a lock sends once to enrol: the installer's token, its public key, its model."""

    token: str = Field(min_length=1, max_length=200)
    public_key: str = Field(description="the lock's raw Ed25519 public key, base64url")
    model: str = Field(min_length=1, max_length=64, description="a lock model, e.g. keyturn-r1")
