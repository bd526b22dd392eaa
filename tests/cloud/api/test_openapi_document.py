"""The OpenAPI document is complete: typed bodies with examples, problem errors, cursor lists.

Reads the document of the real app, so a new route that skips any of this fails here; the
contract test then checks that the app behaves as the document says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI

from factories import MASTER_KEY_TEXT
from keyturn.cloud.app import create_app
from keyturn.cloud.auth.deps import app_routes
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.problems import PROBLEM_MEDIA_TYPE, PROBLEM_REF
from keyturn.settings import Settings

JSON = "application/json"
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app on an unused SQLite file: building the document needs no database."""
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'keyturn.db'}",
        master_key=MASTER_KEY_TEXT,
    )
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def _component(spec: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The named components a body schema is made of: a $ref, or a union of $refs."""
    refs = [schema] if "$ref" in schema else schema.get("anyOf", []) + schema.get("oneOf", [])
    named = [ref["$ref"].rsplit("/", 1)[-1] for ref in refs if "$ref" in ref]
    return [(name, spec["components"]["schemas"][name]) for name in named]


def _untyped_json(spec: dict[str, Any], label: str, content: dict[str, Any]) -> list[str]:
    """What is missing from one body's description: a schema, and for JSON named models
    with examples."""
    missing = []
    for media_type, described in content.items():
        schema = described.get("schema")
        if not schema:
            missing.append(f"{label} {media_type}: no schema")
        elif media_type == JSON:
            parts = _component(spec, schema)
            if not parts:
                missing.append(f"{label}: not a named model")
            missing += [
                f"{label}: {name} has no examples" for name, c in parts if not c.get("examples")
            ]
    return missing


def test_every_request_body_is_typed_with_examples(spec: dict[str, Any]) -> None:
    missing = []
    for label, operation in _operations(spec):
        if "requestBody" in operation:
            missing += _untyped_json(spec, f"{label} body", operation["requestBody"]["content"])

    assert not missing, "\n".join(missing)


def test_every_operation_has_one_typed_success_response(spec: dict[str, Any]) -> None:
    missing = []
    for label, operation in _operations(spec):
        successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        if len(successes) != 1:
            missing.append(f"{label}: {len(successes)} success responses")
        for code, response in successes.items():
            if "content" not in response:
                # Only an accepted or empty answer may have no body.
                if code not in ("202", "204"):
                    missing.append(f"{label} {code}: no content")
                continue
            missing += _untyped_json(spec, f"{label} {code}", response["content"])

    assert not missing, "\n".join(missing)


def test_every_error_is_a_problem_document(spec: dict[str, Any]) -> None:
    wrong = [
        f"{label} {code}"
        for label, operation in _operations(spec)
        for code, response in operation["responses"].items()
        if code[0] in "45"
        and response.get("content") != {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
    ]
    problem = spec["components"]["schemas"]["Problem"]

    assert not wrong, "\n".join(wrong)
    assert set(problem["required"]) == {"type", "title", "status"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_every_list_is_cursor_paginated(spec: dict[str, Any]) -> None:
    unpaged = []
    for label, operation in _operations(spec):
        answer = operation["responses"].get("200", {}).get("content", {}).get(JSON)
        if answer is None:
            continue
        parts = _component(spec, answer["schema"])
        properties = {key for _name, part in parts for key in part.get("properties", {})}
        if answer["schema"].get("type") == "array":
            unpaged.append(f"{label}: a bare array")
        elif "items" in properties:
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if not {"cursor", "limit"} <= query or "next_cursor" not in properties:
                unpaged.append(f"{label}: items without cursor, limit and next_cursor")

    assert not unpaged, "\n".join(unpaged)


def test_every_guarded_route_declares_its_refusals(app: FastAPI, spec: dict[str, Any]) -> None:
    missing = []
    for route in app_routes(app):
        if not route.is_api_route or not route.in_schema:
            continue  # the pages of the portal and the app answer HTML, not problems
        for method in route.methods - {"HEAD", "OPTIONS"}:
            declared = set(spec["paths"][route.path][method.lower()]["responses"])
            needed = {"422"}
            if isinstance(route.policy, Action):
                needed |= {"401", "403"}
                if "{" in route.path:
                    needed.add("404")
            if not needed <= declared:
                missing.append(f"{method} {route.path}: lacks {sorted(needed - declared)}")

    assert not missing, "\n".join(missing)


def test_every_example_matches_its_schema(spec: dict[str, Any]) -> None:
    wrong = []
    for name, schema in spec["components"]["schemas"].items():
        # Resolve $refs against a document that holds every component.
        validator = jsonschema_rs.validator_for(
            {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        )
        for example in schema.get("examples", []):
            if not validator.is_valid(example):
                wrong.append(f"{name}: {json.dumps(example)[:200]}")

    assert not wrong, "\n".join(wrong)
