"""Full and delta access lists: how a delta is made from two full lists and applied to one.

A delta's credentials are incremental (upserts and removals by credential id); everything
else it carries (revocations, suspensions, single-day slots, lockdown) replaces the base's.
"""

from __future__ import annotations

import msgspec

from keyturn.protocol.messages import AccessList, CredentialSpec

_encoder = msgspec.msgpack.Encoder()


class DeltaMismatch(ValueError):
    """A delta does not apply to this list: another door, another base version, or not a delta."""


def canonical(access_list: AccessList) -> AccessList:
    """The list with credentials sorted by id and every set sorted, so equal lists encode alike."""
    return msgspec.structs.replace(
        access_list,
        upserts=tuple(sorted(access_list.upserts, key=lambda spec: spec.credential_id)),
        removals=tuple(sorted(set(access_list.removals))),
        revoked_credential_ids=tuple(sorted(set(access_list.revoked_credential_ids))),
        revoked_key_ids=tuple(sorted(set(access_list.revoked_key_ids))),
        suspended_subjects=tuple(sorted(set(access_list.suspended_subjects))),
        single_day_revocations=tuple(
            sorted(
                set(access_list.single_day_revocations),
                key=lambda item: (item.local_date, item.slot),
            )
        ),
    )


def content_bytes(full: AccessList) -> bytes:
    """The canonical encoding of a full list without its version and issue time.

    Two lists with the same effective content have the same bytes, which is what decides
    whether a door needs a new version.
    """
    if full.base_version is not None:
        raise DeltaMismatch("only a full list has content of its own")
    plain = msgspec.structs.replace(canonical(full), version=0, issued_at=0)
    return _encoder.encode(plain)


def content_from_bytes(data: bytes) -> AccessList:
    """A list decoded from `content_bytes`; its version and issue time are zero."""
    return msgspec.msgpack.decode(data, type=AccessList)


def make_delta(base: AccessList, current: AccessList) -> AccessList:
    """The delta that turns full list `base` into full list `current`."""
    if base.base_version is not None or current.base_version is not None:
        raise DeltaMismatch("a delta is made from two full lists")
    if base.door_id != current.door_id:
        raise DeltaMismatch("the lists are for different doors")
    old = {spec.credential_id: spec for spec in base.upserts}
    new = {spec.credential_id: spec for spec in current.upserts}
    changed = tuple(spec for cid, spec in new.items() if old.get(cid) != spec)
    return canonical(
        msgspec.structs.replace(
            current,
            base_version=base.version,
            upserts=changed,
            removals=tuple(cid for cid in old if cid not in new),
        )
    )


def apply_delta(full: AccessList, delta: AccessList) -> AccessList:
    """The full list that results from applying `delta` to `full`; DeltaMismatch if it can't."""
    if full.base_version is not None:
        raise DeltaMismatch("a delta applies to a full list")
    if delta.base_version is None:
        raise DeltaMismatch("not a delta: base_version is None")
    if delta.door_id != full.door_id:
        raise DeltaMismatch("the delta is for another door")
    if delta.base_version != full.version:
        raise DeltaMismatch(
            f"the delta applies to version {delta.base_version}, not {full.version}"
        )
    credentials: dict[str, CredentialSpec] = {spec.credential_id: spec for spec in full.upserts}
    for credential_id in delta.removals:
        credentials.pop(credential_id, None)
    for spec in delta.upserts:
        credentials[spec.credential_id] = spec
    return canonical(
        msgspec.structs.replace(
            delta, base_version=None, upserts=tuple(credentials.values()), removals=()
        )
    )
