"""The app's OpenAPI document as clients read it: the Problem schema, the refusals of app-wide
rules, and the examples exactly as the models write them.

FastAPI drops every null from the document (fastapi/fastapi#5559), which leaves examples of
nullable required fields invalid, so the examples are put back from the models themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from keyturn.cloud.problems import PROBLEM_SCHEMA, Problem, problem_responses

REF_TEMPLATE = "#/components/schemas/{model}"


def _models(root: type[BaseModel] = BaseModel) -> Iterator[type[BaseModel]]:
    for model in root.__subclasses__():
        if model.__module__.startswith("keyturn."):
            yield model
        yield from _models(model)


def _examples_by_component() -> dict[str, list[Any]]:
    """Each Keyturn model's examples under the names FastAPI may give its component: the
    class name (`Page[KeyOut]` becomes `Page_KeyOut_`) or, when two share it, module and name."""
    found: dict[str, list[Any]] = {}
    short_names: dict[str, int] = {}
    for model in set(_models()):
        examples = model.model_json_schema(ref_template=REF_TEMPLATE).get("examples")
        if not examples:
            continue
        short = re.sub(r"\W", "_", model.__name__)
        short_names[short] = short_names.get(short, 0) + 1
        found[short] = examples
        found[f"{model.__module__}.{short}".replace(".", "__")] = examples
    return {name: ex for name, ex in found.items() if short_names.get(name, 1) == 1}


def _add_app_wide_refusals(document: dict[str, Any]) -> None:
    """422 for any input holding NUL (inputs.py); 503 when the database cannot be reached
    (refusals.py) or stayed busy (retries.py); for a body, 400 when it cannot be decoded at
    all and 413 when it is over the route's size limit (body_limits.py)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation["responses"]
            responses.setdefault("422", problem_responses(422)[422])
            responses.setdefault("503", problem_responses(503)[503])
            if "requestBody" in operation:
                responses.setdefault("400", problem_responses(400)[400])
                responses.setdefault("413", problem_responses(413)[413])


def complete_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` build FastAPI's document once, then complete it as above."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template=REF_TEMPLATE)
            schemas.update(problem.pop("$defs", {}))
            schemas[PROBLEM_SCHEMA] = problem
            examples = _examples_by_component()
            for name, schema in schemas.items():
                if "examples" in schema and name in examples:
                    schema["examples"] = examples[name]
            _add_app_wide_refusals(document)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
