"""The one permission check of the API: who may perform which action at which property.

`POLICIES` is the action → role/permission table as data; `authorize` consults it with the
caller's memberships (RoleMembership, RolePermission, ManagedKey) and is called by
`deps.requires` on every route, so no endpoint decides access on its own.

How to read the table:
- `roles` may perform the action outright; listing PROPERTY_MANAGER means any property
  manager, whatever their permissions.
- `permissions` are the extra powers (RolePermission) that let a property manager perform it.
  KEYS_SPECIFIC only ever covers the keys the manager is assigned (ManagedKey): with a key id
  the key must be one of them; without one the route is open to them and its view must call
  `authorize(..., key_id=...)` for each key it touches.
- A portfolio manager membership at any property of a portfolio makes the person portfolio
  manager of every property in it.
- `scope` is the least API-token scope needed (read < write < admin, each implying the ones
  before it); cookie sessions and login tokens hold every scope.
- At a property with `require_manager_totp`, a caller whose credential was not obtained with
  a TOTP code is treated as holding no manager role there (403 totp-required).
- Another property's objects, or a property the caller has no role at, answer 404.
- A sign-in made before the caller was suspended in the property's portfolio (A6) may do
  nothing at its properties (401): the suspension ends it there, and only there.
- Acting on a person (`subject_id`: a route's `person_id`, or the person a membership
  names) is allowed only on someone with a role here, 404 otherwise; anything but a read
  also needs the caller to rank at least as high as that person, and acting on a manager
  needs `managers.manage` (see `rules.ranks`).
- Managers: the list of a property's managers and their powers is read with `people.read`
  (every manager may see who else manages the building and with which powers; nothing there
  is more private than the people list). Appointing, changing and removing a manager is
  `managers.manage`, never on oneself (403 `own-manager-powers`, the managers service).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.orm import Session, aliased

from keyturn.cloud.auth.errors import (
    Forbidden,
    InsufficientScope,
    NotFound,
    TotpRequired,
    Unauthenticated,
)
from keyturn.cloud.models import Key, ManagedKey, Profile, Property, RoleMembership, RolePermission
from keyturn.rules.ranks import may_act_on, rank_of
from keyturn.rules.types import Permission, Role


class Scope(StrEnum):
    """What an API token may be used for; each scope implies the ones listed before it."""

    READ = "read"  # look: every GET
    WRITE = "write"  # change building data: people, keys, codes, devices, guests
    # security of accounts (tokens, TOTP, manager appointments), DSAR review, retention override
    ADMIN = "admin"


_SCOPE_ORDER = (Scope.READ, Scope.WRITE, Scope.ADMIN)
ALL_SCOPES = frozenset(Scope)


def expand_scopes(scopes: Iterable[str]) -> frozenset[Scope]:
    """The scopes held, with the ones each implies (admin ⇒ write ⇒ read); unknown names drop."""
    held: set[Scope] = set()
    for name in scopes:
        if name in Scope.__members__.values():
            held.update(_SCOPE_ORDER[: _SCOPE_ORDER.index(Scope(name)) + 1])
    return frozenset(held)


class Action(StrEnum):
    """Everything the API does, one value per kind of operation a route performs."""

    # The caller's own account (no property).
    ACCOUNT_READ = "account.read"  # see own account, memberships, tokens; sign out
    ACCOUNT_MANAGE = "account.manage"  # create and revoke own API tokens
    ACCOUNT_SECURITY = "account.security"  # enrol, confirm and remove own TOTP factor
    DSAR_SUBMIT = "dsar.submit"  # ask for a copy or deletion of one's own data (D1, D2)
    CONSENT_SELF = "consent.self"  # give or withdraw one's own consent in the app (R5)
    # A property and its structure.
    PORTFOLIO_MANAGE = "portfolio.manage"  # add properties to the portfolio
    PROPERTY_READ = "property.read"  # see the property, its doors and one's own standing
    PROPERTY_MANAGE = "property.manage"  # settings, units, doors (time zone, codes, lockout)
    PROPERTY_LOCKDOWN = "property.lockdown"  # lock down the property or a door, and lift it
    # People and managers.
    PEOPLE_READ = "people.read"  # list people of the property with their contact details
    PEOPLE_MANAGE = "people.manage"  # add, invite, edit, remove people; CSV import of residents
    PEOPLE_SUSPEND = "people.suspend"  # lost phone (A6): suspend, send temporary code, restore
    MANAGERS_MANAGE = "managers.manage"  # appoint managers, set permissions and managed keys
    CONSENT_RECORD = "consent.record"  # record or withdraw written consent (tenant, guardian)
    # Keys, grants and credentials.
    KEYS_READ = "keys.read"  # list keys and their grants
    # Explain whether and why a person opens a door, and review who can (names, keys): a
    # disclosure of everyone's access rights at a door, so not for residents.
    ACCESS_REVIEW = "access.review"
    KEYS_MANAGE = "keys.manage"  # create, edit, delete keys (doors, schedule, flags)
    KEYS_GRANT = "keys.grant"  # grant a key to a person and revoke grants (per key)
    CREDENTIALS_MANAGE = "credentials.manage"  # others' doorcodes, keycards, phone enrolments
    CREDENTIALS_SELF = "credentials.self"  # enrol own phone, reset own residence doorcode
    GUESTS_INVITE = "guests.invite"  # invite a guest with a mobile key (A5), revoke own invite
    CODES_SINGLE_DAY_CREATE = "codes.single_day.create"  # single-day code (A4), revoke own
    CODES_ONE_TIME_CREATE = "codes.one_time.create"  # one-time short code, revoke own
    SERVICE_PROVIDERS_MANAGE = "service_providers.manage"  # book recurring service providers
    COURIERS_MANAGE = "couriers.manage"  # courier codes and keys (A8)
    # Locks.
    DEVICES_READ = "devices.read"  # lock health: battery, firmware, last sync, staleness
    DEVICES_MANAGE = "devices.manage"  # provision, bind, unbind, firmware offers
    # History, photos, privacy.
    HISTORY_READ = "history.read"  # /events, filtered for the caller by the visibility rule
    HISTORY_EXPORT = "history.export"  # CSV export of what the caller may see (audited)
    PHOTOS_READ = "photos.read"  # photos, each still checked by the photo rule (P4)
    WEBHOOKS_MANAGE = "webhooks.manage"  # subscribe URLs to door events
    AUDIT_READ = "audit.read"  # the audit record of disclosures and administrative acts
    RETENTION_READ = "retention.read"  # the property's retention policy and log gaps
    RETENTION_MANAGE = "retention.manage"  # shorten the property's retention, or reset it
    DSAR_REVIEW = "dsar.review"  # review data-subject requests and authorised agents (D3)


@dataclass(frozen=True)
class Policy:
    """Who may perform one action: roles outright, or property managers with a permission."""

    scope: Scope
    roles: frozenset[Role] = frozenset()
    permissions: frozenset[Permission] = frozenset()
    account_only: bool = False


PORTFOLIO = Role.PORTFOLIO_MANAGER
MANAGERS = frozenset({Role.PORTFOLIO_MANAGER, Role.PROPERTY_MANAGER})
EVERY_ROLE = frozenset(Role)
KEY_EDITORS = frozenset({Permission.KEYS_FULL})
KEY_SHARERS = frozenset({Permission.KEYS_FULL, Permission.KEYS_LIMITED})
KEY_HOLDERS = frozenset({Permission.KEYS_FULL, Permission.KEYS_LIMITED, Permission.KEYS_SPECIFIC})


def _own(scope: Scope) -> Policy:
    return Policy(scope, account_only=True)


def _by(scope: Scope, *roles: Role, permissions: frozenset[Permission] = frozenset()) -> Policy:
    return Policy(scope, frozenset(roles), permissions)


POLICIES: dict[Action, Policy] = {
    Action.ACCOUNT_READ: _own(Scope.READ),
    Action.ACCOUNT_MANAGE: _own(Scope.ADMIN),
    Action.ACCOUNT_SECURITY: _own(Scope.ADMIN),
    Action.DSAR_SUBMIT: _own(Scope.WRITE),
    Action.CONSENT_SELF: _own(Scope.WRITE),
    Action.PORTFOLIO_MANAGE: _by(Scope.WRITE, PORTFOLIO),
    Action.PROPERTY_READ: _by(Scope.READ, *EVERY_ROLE),
    Action.PROPERTY_MANAGE: _by(Scope.WRITE, *MANAGERS),
    Action.PROPERTY_LOCKDOWN: _by(Scope.WRITE, *MANAGERS),
    Action.PEOPLE_READ: _by(Scope.READ, *MANAGERS),
    Action.PEOPLE_MANAGE: _by(Scope.WRITE, *MANAGERS),
    Action.PEOPLE_SUSPEND: _by(Scope.WRITE, *MANAGERS),
    Action.MANAGERS_MANAGE: _by(Scope.ADMIN, PORTFOLIO),
    Action.CONSENT_RECORD: _by(Scope.WRITE, *MANAGERS),
    Action.KEYS_READ: _by(Scope.READ, PORTFOLIO, permissions=KEY_HOLDERS),
    Action.KEYS_MANAGE: _by(Scope.WRITE, PORTFOLIO, permissions=KEY_EDITORS),
    # Managers who read every key's grants; a specific-keys manager sees only some keys, and an
    # answer covers every key at the door, so theirs would show grants of keys not theirs.
    Action.ACCESS_REVIEW: _by(Scope.READ, PORTFOLIO, permissions=KEY_SHARERS),
    Action.KEYS_GRANT: _by(Scope.WRITE, PORTFOLIO, permissions=KEY_HOLDERS),
    Action.CREDENTIALS_MANAGE: _by(Scope.WRITE, PORTFOLIO, permissions=KEY_SHARERS),
    Action.CREDENTIALS_SELF: _by(Scope.WRITE, *EVERY_ROLE),
    Action.GUESTS_INVITE: _by(Scope.WRITE, PORTFOLIO, Role.RESIDENT, permissions=KEY_SHARERS),
    Action.CODES_SINGLE_DAY_CREATE: _by(
        Scope.WRITE, PORTFOLIO, Role.RESIDENT, permissions=KEY_SHARERS
    ),
    Action.CODES_ONE_TIME_CREATE: _by(
        Scope.WRITE, PORTFOLIO, Role.RESIDENT, permissions=KEY_SHARERS
    ),
    Action.SERVICE_PROVIDERS_MANAGE: _by(
        Scope.WRITE, PORTFOLIO, Role.RESIDENT, permissions=KEY_SHARERS
    ),
    Action.COURIERS_MANAGE: _by(Scope.WRITE, PORTFOLIO, permissions=KEY_SHARERS),
    Action.DEVICES_READ: _by(Scope.READ, *MANAGERS),
    Action.DEVICES_MANAGE: _by(
        Scope.WRITE, PORTFOLIO, permissions=frozenset({Permission.DEVICE_MANAGEMENT})
    ),
    Action.HISTORY_READ: _by(Scope.READ, *EVERY_ROLE),
    Action.HISTORY_EXPORT: _by(Scope.READ, *MANAGERS),
    Action.PHOTOS_READ: _by(
        Scope.READ,
        PORTFOLIO,
        Role.RESIDENT,
        permissions=frozenset({Permission.SECURITY_VIEWER}),
    ),
    Action.WEBHOOKS_MANAGE: _by(Scope.WRITE, *MANAGERS),
    Action.AUDIT_READ: _by(Scope.READ, PORTFOLIO),
    Action.RETENTION_READ: _by(Scope.READ, *MANAGERS),
    # A shorter retention erases history for good at the job's next run: the portfolio's
    # owner decides it, with a credential fit for irreversible acts.
    Action.RETENTION_MANAGE: _by(Scope.ADMIN, PORTFOLIO),
    Action.DSAR_REVIEW: _by(Scope.ADMIN, PORTFOLIO),
}


class CredentialKind(StrEnum):
    SESSION = "session"  # a cookie session; unsafe methods need the CSRF header
    TOKEN = "token"  # noqa: S105 - a bearer token (API token or login token); exempt from CSRF


@dataclass(frozen=True)
class Principal:
    """Who is calling and with what: the person, the credential, its scopes and TOTP state."""

    person_id: str
    account_id: str
    kind: CredentialKind
    credential_id: str
    scopes: frozenset[Scope]
    totp_satisfied: bool
    # When the credential was obtained; None (unknown) counts as before any bar.
    issued_at: datetime | None = None


@dataclass(frozen=True)
class PropertyFacts:
    """What the permission check reads of the property beside the roles: its name, time zone
    and jurisdiction, for a page to show without reading the property again."""

    name: str
    time_zone: str
    jurisdiction: str


@dataclass(frozen=True)
class Standing:
    """A person's roles and powers at one property, as the permission check sees them."""

    person_id: str
    property_id: str
    roles: frozenset[Role]
    permissions: frozenset[Permission]
    managed_key_ids: frozenset[str]
    manager_totp_required: bool
    facts: PropertyFacts
    sign_ins_barred_before: datetime | None = None

    def admits(self, principal: Principal) -> bool:
        """Whether the caller's sign-in outlived no suspension in this portfolio."""
        barred = self.sign_ins_barred_before
        if barred is None:
            return True
        return principal.issued_at is not None and principal.issued_at > barred

    def effective_for(self, principal: Principal) -> Standing:
        """The standing with manager roles dropped when the property demands a TOTP login."""
        if not self.manager_totp_required or principal.totp_satisfied:
            return self
        return replace(
            self, roles=self.roles - MANAGERS, permissions=frozenset(), managed_key_ids=frozenset()
        )


# The statements of every permission check, built once: building one costs more than running it.
_MEMBER = aliased(RoleMembership)
_MEMBER_PROPERTY = aliased(Property)
# One row per role and extra power the person holds at the property (one row with neither if
# none), each saying whether they are portfolio manager anywhere in the property's portfolio,
# and the property's facts a page shows.
_STANDING_AT = (
    select(
        Property.require_manager_totp,
        Property.name,
        Property.time_zone,
        Property.jurisdiction,
        RoleMembership.role,
        RolePermission.permission,
        exists(
            select(_MEMBER.id)
            .join(_MEMBER_PROPERTY, _MEMBER_PROPERTY.id == _MEMBER.property_id)
            .where(
                _MEMBER.person_id == bindparam("person"),
                _MEMBER.role == Role.PORTFOLIO_MANAGER,
                _MEMBER.ended_at.is_(None),
                _MEMBER_PROPERTY.portfolio_id == Property.portfolio_id,
            )
        ).label("portfolio_manager"),
        select(Profile.sign_ins_barred_before)
        .where(
            Profile.person_id == bindparam("person"),
            Profile.portfolio_id == Property.portfolio_id,
        )
        .scalar_subquery()
        .label("sign_ins_barred_before"),
    )
    .select_from(Property)
    .outerjoin(
        RoleMembership,
        and_(
            RoleMembership.property_id == Property.id,
            RoleMembership.person_id == bindparam("person"),
            RoleMembership.in_force(),
        ),
    )
    .outerjoin(
        RolePermission,
        and_(
            RolePermission.property_id == Property.id,
            RolePermission.person_id == bindparam("person"),
        ),
    )
    .where(Property.id == bindparam("property"))
)
_MANAGED_KEYS_AT = (
    select(ManagedKey.key_id)
    .join(Key, Key.id == ManagedKey.key_id)
    .where(ManagedKey.person_id == bindparam("person"), Key.property_id == bindparam("property"))
)
_KEY_AT = select(Key.id).where(Key.id == bindparam("key"), Key.property_id == bindparam("property"))


def standing_at(session: Session, person_id: str, property_id: str) -> Standing | None:
    """The person's standing at the property, or None when they have no role there at all."""
    params = {"person": person_id, "property": property_id}
    rows = session.execute(_STANDING_AT, params).all()
    if not rows:
        return None
    roles = {row.role for row in rows if row.role is not None}
    if rows[0].portfolio_manager:
        roles.add(Role.PORTFOLIO_MANAGER)
    if not roles:
        return None
    permissions: frozenset[Permission] = frozenset()
    managed: frozenset[str] = frozenset()
    # Extra powers count only for a property manager.
    if Role.PROPERTY_MANAGER in roles:
        permissions = frozenset(row.permission for row in rows if row.permission is not None)
    if Permission.KEYS_SPECIFIC in permissions:
        managed = frozenset(session.execute(_MANAGED_KEYS_AT, params).scalars())
    return Standing(
        person_id=person_id,
        property_id=property_id,
        roles=frozenset(roles),
        permissions=permissions,
        managed_key_ids=managed,
        manager_totp_required=bool(rows[0].require_manager_totp),
        facts=PropertyFacts(rows[0].name, rows[0].time_zone, rows[0].jurisdiction),
        sign_ins_barred_before=rows[0].sign_ins_barred_before,
    )


def allows(policy: Policy, standing: Standing, key_id: str | None = None) -> bool:
    """Whether the standing satisfies the policy's roles or permissions (scopes aside)."""
    if standing.roles & policy.roles:
        return True
    if Role.PROPERTY_MANAGER not in standing.roles:
        return False
    held = standing.permissions & policy.permissions
    if held - {Permission.KEYS_SPECIFIC}:
        return True
    if Permission.KEYS_SPECIFIC not in held:
        return False
    if key_id is None:
        return bool(standing.managed_key_ids)
    return key_id in standing.managed_key_ids


def permits(standing: Standing, principal: Principal, action: Action) -> bool:
    """Whether `authorize` would let the caller, admitted with this standing, do the action.

    The same rules without raising (key and person acted on aside): for a view that only
    chooses what to show or do, never to refuse.
    """
    policy = POLICIES[action]
    return (
        not policy.account_only
        and policy.scope in principal.scopes
        and allows(policy, standing.effective_for(principal))
    )


def may(
    session: Session,
    principal: Principal,
    action: Action,
    property_id: str,
    *,
    standing: Standing | None = None,
) -> bool:
    """Whether `authorize` would let the caller do the action at the property, as a yes or no.

    For a service that chooses what to do or show by who asks, never to refuse: a refusal
    goes through `authorize` (or `requires`), which says why. `standing`, the caller's at
    this property as the request's check read it, saves reading it again.
    """
    if standing is None or standing.property_id != property_id:
        standing = standing_at(session, principal.person_id, property_id)
    return (
        standing is not None and standing.admits(principal) and permits(standing, principal, action)
    )


def people_allowed(session: Session, action: Action, property_id: str) -> list[str]:
    """Everyone whose roles and powers at the property allow the action, by person id.

    For telling people about work that is theirs to do (a data request to review), not for
    letting anyone in: credentials, scopes, TOTP and suspensions are checked when they act.
    Candidates are the people holding, anywhere in the property's portfolio, a role that can
    allow it (a property manager's, when a permission can); each is then checked as above.
    """
    policy = POLICIES[action]
    roles = set(policy.roles) | ({Role.PROPERTY_MANAGER} if policy.permissions else set())
    portfolio_id = select(Property.portfolio_id).where(Property.id == property_id)
    candidates = session.scalars(
        select(RoleMembership.person_id)
        .join(Property, Property.id == RoleMembership.property_id)
        .where(
            Property.portfolio_id == portfolio_id.scalar_subquery(),
            RoleMembership.role.in_(roles),
        )
        .distinct()
    ).all()
    allowed = []
    for person_id in sorted(candidates):
        standing = standing_at(session, person_id, property_id)
        if standing is not None and allows(policy, standing):
            allowed.append(person_id)
    return allowed


def acts_for_property(session: Session, principal: Principal, property_id: str) -> bool:
    """Whether the caller shares and revokes for the whole property, not only for their own
    doors: whoever may manage others' credentials here (a resident may not)."""
    return may(session, principal, Action.CREDENTIALS_MANAGE, property_id)


def keys_in_reach(
    session: Session, principal: Principal, action: Action, property_id: str
) -> frozenset[str] | None:
    """The keys the caller may act on for the action here: None for every key, else only the
    keys assigned to them (a property manager with specific keys)."""
    standing = standing_at(session, principal.person_id, property_id)
    if standing is None:
        return frozenset()
    effective = standing.effective_for(principal)
    # Allowed for a key id nobody manages means allowed for every key (not "specific keys").
    if allows(POLICIES[action], effective, key_id=""):
        return None
    return effective.managed_key_ids


def allowed_actions(standing: Standing, principal: Principal) -> list[Action]:
    """Every property action the caller may perform with this credential, in table order."""
    return [action for action in POLICIES if permits(standing, principal, action)]


def authorize(
    session: Session,
    principal: Principal,
    action: Action,
    property_id: str | None,
    *,
    key_id: str | None = None,
    subject_id: str | None = None,
) -> Standing | None:
    """Return if the principal may perform the action at the property, else raise.

    What it returns is the standing it checked (None for an account action), which the
    request may reuse rather than read the same roles again.

    NotFound when the property (or the key, or the person `subject_id`, within it) is not
    visible to the caller, Unauthenticated when the caller's sign-in predates their
    suspension in this portfolio, Forbidden when the role does not allow the action or the
    person acted on outranks the caller, TotpRequired when only a manager role allows it and
    the property demands TOTP, InsufficientScope for a token whose scopes are too small.
    """
    policy = POLICIES[action]
    standing = None
    if not policy.account_only:
        if property_id is None:
            raise ValueError(f"{action} is a property action and needs a property id")
        standing = standing_at(session, principal.person_id, property_id)
        if standing is None:
            raise NotFound()
        if not standing.admits(principal):
            raise Unauthenticated(
                "your building access here was suspended after this sign-in; sign in again"
            )
        if key_id is not None and not _key_in_property(session, key_id, property_id):
            raise NotFound()
        if not allows(policy, standing, key_id):
            raise Forbidden(f"your role at this property does not allow {action}")
        effective = standing.effective_for(principal)
        if not allows(policy, effective, key_id):
            raise TotpRequired(
                "enrol a TOTP second factor at /api/v1/auth/totp, then sign in with a code"
            )
        if subject_id is not None:
            _check_subject(session, principal, policy, effective, subject_id)
    if policy.scope not in principal.scopes:
        raise InsufficientScope(policy.scope)
    return standing


def _check_subject(
    session: Session, principal: Principal, policy: Policy, actor: Standing, subject_id: str
) -> None:
    """The person acted on must have a role at the property; a change needs rank (see above)."""
    subject = standing_at(session, subject_id, actor.property_id)
    if subject is None:
        raise NotFound()
    if policy.scope is Scope.READ or subject_id == actor.person_id:
        return
    managers = POLICIES[Action.MANAGERS_MANAGE]
    manages_managers = allows(managers, actor) and managers.scope in principal.scopes
    actor_rank = rank_of(actor.roles, manages_managers=manages_managers)
    subject_rank = rank_of(subject.roles, manages_managers=allows(managers, subject))
    if not may_act_on(actor_rank, subject_rank, manages_managers=manages_managers):
        raise Forbidden("this person outranks you here, or is a manager you may not act on")


def _key_in_property(session: Session, key_id: str, property_id: str) -> bool:
    found = session.execute(_KEY_AT, {"key": key_id, "property": property_id}).first()
    return found is not None
