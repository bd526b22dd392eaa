"""Who may act on whom: rank order, the manager-management requirement, reflexivity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keyturn.rules.ranks import Rank, may_act_on, rank_of
from keyturn.rules.types import Role

roles = st.frozensets(st.sampled_from(list(Role)))


def test_rank_follows_the_order_the_design_gives() -> None:
    order = [
        rank_of({Role.GUEST}, manages_managers=False),
        rank_of({Role.RESIDENT}, manages_managers=False),
        rank_of({Role.STAFF}, manages_managers=False),
        rank_of({Role.PROPERTY_MANAGER}, manages_managers=False),
        rank_of({Role.PROPERTY_MANAGER}, manages_managers=True),
        rank_of({Role.PORTFOLIO_MANAGER}, manages_managers=False),
    ]
    assert order == sorted(order)
    assert len(set(order)) == len(order)
    assert rank_of({Role.COURIER, Role.SERVICE_PROVIDER}, manages_managers=False) is Rank.VISITOR
    assert rank_of({Role.RESIDENT, Role.STAFF}, manages_managers=False) is Rank.STAFF


@given(actor=st.sampled_from(list(Rank)), subject=st.sampled_from(list(Rank)), power=st.booleans())
def test_nobody_acts_on_someone_who_outranks_them(actor: Rank, subject: Rank, power: bool) -> None:
    if subject > actor:
        assert not may_act_on(actor, subject, manages_managers=power)


@given(actor=st.sampled_from(list(Rank)), subject=st.sampled_from(list(Rank)))
def test_acting_on_a_manager_needs_the_power_to_manage_managers(actor: Rank, subject: Rank) -> None:
    if subject >= Rank.MANAGER:
        assert not may_act_on(actor, subject, manages_managers=False)
    else:
        assert may_act_on(actor, subject, manages_managers=False) == (actor >= subject)


@given(held=roles, power=st.booleans())
def test_a_manager_of_managers_acts_on_anyone_not_above_them(
    held: frozenset[Role], power: bool
) -> None:
    rank = rank_of(held, manages_managers=power)
    assert may_act_on(rank, rank, manages_managers=True)
    assert may_act_on(Rank.PORTFOLIO_MANAGER, rank, manages_managers=True)
