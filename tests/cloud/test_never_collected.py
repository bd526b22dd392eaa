"""R7: no column of the migrated database and no name in the OpenAPI description can carry a
person's location outside the building or the relationship between people.

Names are split into words (snake_case, camelCase, paths) and matched word by word, so
`client_address` (a login's IP, kept for throttling) or `door` never trip it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from keyturn.cloud.app import create_app
from keyturn.settings import Settings

LOCATION_WORDS = frozenset(
    {
        "latitude",
        "longitude",
        "lat",
        "lng",
        "lon",
        "altitude",
        "gps",
        "geo",
        "geolocation",
        "geohash",
        "geopoint",
        "location",
        "locations",
        "coordinates",
        "coords",
        "whereabouts",
    }
)
RELATIONSHIP_WORDS = frozenset(
    {
        "relationship",
        "relationships",
        "relation",
        "relations",
        "spouse",
        "partner",
        "partners",
        "marital",
        "married",
        "husband",
        "wife",
        "boyfriend",
        "girlfriend",
        "kinship",
        "kin",
        "relative",
        "relatives",
        "sibling",
        "family",
    }
)
NEVER_COLLECTED = LOCATION_WORDS | RELATIONSHIP_WORDS


def words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word}


def forbidden(name: str) -> bool:
    return bool(words(name) & NEVER_COLLECTED)


def _openapi_names(node: Any) -> Iterator[str]:
    """Every property name and parameter name anywhere in an OpenAPI document."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            yield from properties
        if node.get("in") in ("query", "path", "header", "cookie") and "name" in node:
            yield str(node["name"])
        for value in node.values():
            yield from _openapi_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _openapi_names(value)


def test_rule_r7_the_word_check_catches_what_it_must_and_spares_building_data() -> None:
    caught = ["home_latitude", "relationshipStatus", "spouse_id", "gpsTrace", "/people/{kin}"]
    spared = ["client_address", "door_kind", "unit_id", "guardian_consent_at", "to_address"]

    assert [name for name in caught if not forbidden(name)] == []
    assert [name for name in spared if forbidden(name)] == []


def test_rule_r7_no_table_column_carries_location_or_relationship(engine: Engine) -> None:
    schema = inspect(engine)
    columns = [
        f"{table}.{column['name']}"
        for table in schema.get_table_names()
        for column in schema.get_columns(table)
    ]

    assert len(columns) > 100
    assert "profiles.nyc_consent_at" in columns
    assert [name for name in columns if forbidden(name)] == []


def test_rule_r7_no_openapi_property_parameter_or_path_carries_them(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    document = create_app(settings, engine).openapi()
    names = [*_openapi_names(document), *document["paths"]]

    assert "display_name" in names
    assert [name for name in names if forbidden(name)] == []
