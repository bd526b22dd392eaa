"""`keyturn manager`: list a property's managers, set a property manager's powers, remove one.

The operator acts on the database directly, through the same managers service as the API but
without a person behind them: the audit record shows such changes as the operator's.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from keyturn.cli.arguments import find_property, migrated_session
from keyturn.cli.context import console
from keyturn.cloud import db as database
from keyturn.cloud.people.managers import service
from keyturn.cloud.people.managers.service import KeyLevel, ManagerEntry, Powers

app = typer.Typer(help="Appoint property managers and set their powers.", no_args_is_help=True)

PropertyOption = Annotated[
    str, typer.Option("--property", help="The property's name, or its id.", show_default=False)
]
EmailOption = Annotated[
    str, typer.Option("--email", help="The email of a person of the property.", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("list")
def list_(property_: PropertyOption, as_json: JsonOption = False) -> None:
    """Every manager of the property with their key level, managed keys and other powers."""
    with migrated_session() as session:
        prop = find_property(session, property_)
        entries = service.list_managers(session=session, property_id=prop.id)
    if as_json:
        typer.echo(json.dumps([_entry_json(entry) for entry in entries]))
        return
    if not entries:
        console.print(f"{prop.name} has no managers", highlight=False)
        return
    table = Table("name", "email", "role", "keys", "devices", "photos", "appointed")
    for entry in entries:
        table.add_row(
            entry.display_name,
            entry.email or "-",
            entry.role.value,
            _keys(entry),
            _yes(entry.powers.device_management),
            _yes(entry.powers.security_viewer),
            f"{entry.appointed_at:%Y-%m-%d} by {entry.appointed_by_name or 'the operator'}",
        )
    console.print(table)


@app.command("set")
def set_(
    property_: PropertyOption,
    email: EmailOption,
    keys: Annotated[
        KeyLevel,
        typer.Option(help="How far their power over keys reaches.", case_sensitive=False),
    ],
    key: Annotated[
        list[str] | None,
        typer.Option("--key", help="A key they manage, by name (repeat; only with specific)."),
    ] = None,
    device_management: Annotated[
        bool, typer.Option(help="May enrol, bind and retire locks.")
    ] = False,
    security_viewer: Annotated[
        bool, typer.Option(help="May see door photos as building security (P4).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Appoint a person of the property as property manager, or replace their powers."""
    with migrated_session() as session:
        prop = find_property(session, property_)
        person = service.find_member(session=session, property_id=prop.id, email=email)
        key_ids = service.key_ids_named(session=session, property_id=prop.id, names=key or [])
        entry = service.set_manager(
            session=session,
            principal=None,
            property_id=prop.id,
            person_id=person.id,
            powers=Powers(
                keys=keys,
                key_ids=key_ids,
                device_management=device_management,
                security_viewer=security_viewer,
            ),
            now=database.utcnow(),
        )
        session.commit()
    if as_json:
        typer.echo(json.dumps(_entry_json(entry)))
        return
    console.print(
        f"{entry.display_name} is property manager at {prop.name}: keys {_keys(entry)}, "
        f"device management {_yes(entry.powers.device_management)}, "
        f"security viewer {_yes(entry.powers.security_viewer)}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def remove(property_: PropertyOption, email: EmailOption) -> None:
    """Remove a property manager: their role and every permission and managed key there."""
    with migrated_session() as session:
        prop = find_property(session, property_)
        person = service.find_member(session=session, property_id=prop.id, email=email)
        service.remove_manager(
            session=session,
            principal=None,
            property_id=prop.id,
            person_id=person.id,
            now=database.utcnow(),
        )
        session.commit()
    console.print(f"{email} is no longer a manager at {prop.name}", highlight=False)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _keys(entry: ManagerEntry) -> str:
    if entry.powers.keys is not KeyLevel.SPECIFIC:
        return entry.powers.keys.value
    return f"specific ({', '.join(name for _id, name in entry.managed_keys)})"


def _entry_json(entry: ManagerEntry) -> dict[str, Any]:
    return {
        "person_id": entry.person_id,
        "display_name": entry.display_name,
        "email": entry.email,
        "role": entry.role.value,
        "keys": entry.powers.keys.value,
        "managed_keys": [{"id": key_id, "name": name} for key_id, name in entry.managed_keys],
        "device_management": entry.powers.device_management,
        "security_viewer": entry.powers.security_viewer,
        "appointed_by": entry.appointed_by,
        "appointed_by_name": entry.appointed_by_name,
        "appointed_at": entry.appointed_at.isoformat(),
    }
