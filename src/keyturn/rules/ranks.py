"""Who may act on whom: the rank of a person's roles at a property, and the one comparison.

Nobody acts on someone who outranks them, and acting on any manager also needs the power to
manage managers; reading is not acting.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from keyturn.rules.types import Role


class Rank(IntEnum):
    """Higher outranks lower; a person's rank at a property is that of their highest role."""

    VISITOR = 0  # guest, service provider, courier
    RESIDENT = 1
    STAFF = 2
    MANAGER = 3
    MANAGER_OF_MANAGERS = 4  # a property manager who may manage managers
    PORTFOLIO_MANAGER = 5


_ROLE_RANK = {
    Role.PORTFOLIO_MANAGER: Rank.PORTFOLIO_MANAGER,
    Role.PROPERTY_MANAGER: Rank.MANAGER,
    Role.STAFF: Rank.STAFF,
    Role.RESIDENT: Rank.RESIDENT,
    Role.GUEST: Rank.VISITOR,
    Role.SERVICE_PROVIDER: Rank.VISITOR,
    Role.COURIER: Rank.VISITOR,
}


def rank_of(roles: Iterable[Role], *, manages_managers: bool) -> Rank:
    """The rank of the highest of these roles; a property manager who may manage managers
    ranks above other managers."""
    rank = max((_ROLE_RANK[role] for role in roles), default=Rank.VISITOR)
    if rank == Rank.MANAGER and manages_managers:
        return Rank.MANAGER_OF_MANAGERS
    return rank


def may_act_on(actor: Rank, subject: Rank, *, manages_managers: bool) -> bool:
    """Whether someone of rank `actor` may change anything about someone of rank `subject`."""
    if subject >= Rank.MANAGER and not manages_managers:
        return False
    return actor >= subject
