"""HTTP routes for provisioning locks, syncing them, and reading their health.

Provisioning is authorised by its one-time token and sync by the lock's signature; reading
a lock's health needs the devices.read action at the lock's property.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from keyturn.cloud.auth.deps import MasterKey, public_route, requires
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.body_limits import body_limit
from keyturn.cloud.devices import service
from keyturn.cloud.devices.schemas import DeviceHealthOut, ProvisionRequest
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import Device
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.cloud.sessions import session_factory
from keyturn.crypto.keys import COSE_KEY_SET_MEDIA_TYPE
from keyturn.settings import Settings

MSGPACK = "application/msgpack"
OCTET_STREAM = "application/octet-stream"
BYTES = {"schema": {"type": "string", "format": "binary"}}
# A lock's uplink batch may carry its photos; the only route that takes more than JSON.
SYNC_BODY_LIMIT = 64 * 1024 * 1024

router = APIRouter(prefix="/api/v1", tags=["devices"])
T = TypeVar("T")


def _in_transaction(request: Request, work: Callable[[Session, Settings], T]) -> T:
    """Run `work` in one transaction: committed on success, rolled back on any error."""
    settings: Settings = request.app.state.settings
    with session_factory(request.app.state.engine)() as session, session.begin():
        return work(session, settings)


def _device_property(session: Session, params: Mapping[str, Any]) -> str | None:
    """The property of the lock named in the path, for the permission check."""
    device = session.get(Device, params.get("device_id"))
    return device.property_id if device is not None else None


@router.post(
    "/devices/provision",
    response_class=Response,
    responses={
        201: {"content": {MSGPACK: BYTES}, "description": "The lock's DoorConfig"},
        **problem_responses(
            403,
            404,
            409,
            422,
            meaning={
                403: "The token is unknown, expired or already used",
                404: "The token's door no longer exists",
                409: "Another lock is bound to the door",
                422: "Invalid input, an unknown model, or a model or key that does not fit",
            },
        ),
    },
    status_code=201,
    dependencies=[public_route("the one-time provisioning token authorises it")],
)
def provision(body: ProvisionRequest, request: Request, master_key: MasterKey) -> Response:
    """Enrol a lock with its one-time token and return its DoorConfig as msgpack.

    The token is the authorisation: it is spent on success, and an unknown, expired or
    spent token is refused with nothing changed.
    """

    def work(session: Session, _settings: Settings) -> bytes:
        config = service.provision_device(
            session,
            master_key,
            body.token,
            service.decode_public_key(body.public_key),
            body.model,
            datetime.now(UTC),
        )
        return msgspec.msgpack.encode(config)

    encoded = _in_transaction(request, work)
    return Response(encoded, status_code=201, media_type=MSGPACK)


@router.post(
    "/sync",
    response_class=Response,
    openapi_extra={
        "requestBody": {"content": {OCTET_STREAM: BYTES}, "required": True},
        **body_limit(SYNC_BODY_LIMIT),
    },
    responses={
        200: {"content": {OCTET_STREAM: BYTES}, "description": "A sealed Downlink frame"},
        **problem_responses(
            400,
            401,
            404,
            meaning={
                400: "The body is not a sync frame, or its batch is inconsistent",
                401: "The frame does not decrypt or verify as the lock's",
                404: "No such lock, or it was retired",
            },
        ),
    },
    dependencies=[public_route("the lock's signature on the frame authenticates it")],
)
async def sync(request: Request, master_key: MasterKey) -> Response:
    """Take one sealed Uplink frame from a lock (or a phone relaying it), answer a Downlink.

    The lock's signature is the authorisation; frames that fail it store nothing.
    """
    frame = await request.body()

    def work(session: Session, settings: Settings) -> bytes:
        # The photo folder is made when a photo is stored; the master key is decoded once.
        return handle_uplink(session, master_key, settings.photo_dir, frame, datetime.now(UTC))

    downlink = await run_in_threadpool(_in_transaction, request, work)
    return Response(downlink, media_type=OCTET_STREAM)


@router.get(
    "/devices/{device_id}/health",
    response_model=DeviceHealthOut,
    description=(
        "How current a lock is: its applied access-list version against its door's current "
        "version, time since its last sync, battery, firmware and clock drift."
    ),
    responses=GUARDED,
    dependencies=[requires(Action.DEVICES_READ, property_from=_device_property)],
)
def health(device_id: str, request: Request, master_key: MasterKey) -> service.DeviceHealth:
    def work(session: Session, _settings: Settings) -> service.DeviceHealth:
        return service.device_health(session, device_id, datetime.now(UTC), master_key=master_key)

    return _in_transaction(request, work)


@router.get(
    "/properties/{property_id}/keys.cose",
    response_class=Response,
    responses={
        200: {
            "content": {COSE_KEY_SET_MEDIA_TYPE: BYTES},
            "description": "The property's authority public key as a CBOR COSE_KeySet",
        },
        **problem_responses(404, 422, meaning={404: "No such property"}),
    },
    description=(
        "The public key(s) that sign this property's mobile keys and access lists, as a COSE "
        "Key Set (RFC 9052 section 7), so anyone holding a mobile key or an access list can "
        "verify it. No login: a public key reveals nothing secret."
    ),
    dependencies=[
        public_route(
            "a public key reveals nothing secret, and only someone who already knows the "
            "property's unguessable id (a phone or lock of that property) can ask"
        )
    ],
)
def property_keys(property_id: str, request: Request) -> Response:
    """The property's authority public key(s) as `application/cose-key-set`."""

    def work(session: Session, _settings: Settings) -> bytes:
        return service.property_key_set(session, property_id)

    return Response(_in_transaction(request, work), media_type=COSE_KEY_SET_MEDIA_TYPE)
