"""The people and managers services' writers that the factories, the simulator and the demo
use."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_key, make_person, make_property
from keyturn.cloud.auth.errors import Conflict
from keyturn.cloud.errors import InvalidReference
from keyturn.cloud.models import ManagedKey, Person
from keyturn.cloud.people.managers.service import KeyLevel, Powers, write_powers
from keyturn.cloud.people.service import add_person


def test_a_known_email_is_not_a_new_person(session: Session) -> None:
    first = add_person(session=session, display_name="Ada", email="Ada@Example.org")
    assert first.email == "ada@example.org"
    with pytest.raises(Conflict):
        add_person(session=session, display_name="Another Ada", email="ada@example.org")
    assert session.scalars(select(Person.display_name)).all() == ["Ada"]


def test_specific_keys_must_be_keys_of_the_property(session: Session) -> None:
    here = make_property(session)
    there = make_property(session, portfolio_name="Oak Holdings", name="3 Oak Ave")
    gym = make_key(session, property_id=here.id, name="Gym")
    lobby = make_key(session, property_id=there.id, name="Oak lobby")
    manager = make_person(session, email="pm@example.org")

    with pytest.raises(InvalidReference):
        write_powers(
            session=session,
            property_id=here.id,
            person_id=manager.id,
            powers=Powers(keys=KeyLevel.SPECIFIC, key_ids=frozenset({gym.id, lobby.id})),
            by=None,
        )
    write_powers(
        session=session,
        property_id=here.id,
        person_id=manager.id,
        powers=Powers(keys=KeyLevel.SPECIFIC, key_ids=frozenset({gym.id})),
        by=None,
    )
    assert session.scalars(select(ManagedKey.key_id)).all() == [gym.id]
