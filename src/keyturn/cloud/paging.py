"""Cursor pagination shared by every list route: one page of items and the next page's cursor.

A cursor is the id of the previous page's last item and lists are ordered by id (or, for the
few short lists kept in another order, by that order), so paging stays stable while rows are
added elsewhere. Newest-first lists (history, the audit record) page by an opaque cursor of
the last item's instant and id instead.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, get_args

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from keyturn.cloud.errors import BadCursor
from keyturn.cloud.fields import example_id

T = TypeVar("T")
R = TypeVar("R")
MAX_PAGE = 100
DEFAULT_PAGE = 50

Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=36, description="`next_cursor` of the previous page"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]


def _page_example(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The example of `Page[Item]`: a page holding the item's own example, with more to come."""
    item = get_args(model.model_fields["items"].annotation)[0]
    extra = getattr(item, "model_config", {}).get("json_schema_extra")
    if isinstance(extra, dict) and extra.get("examples"):
        schema["examples"] = [{"items": extra["examples"][:1], "next_cursor": example_id(0xFF)}]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` to get the next one."""

    model_config = ConfigDict(json_schema_extra=_page_example)

    items: list[T]
    next_cursor: str | None = Field(description="Null on the last page")


def page_of(
    session: Session,
    query: Select[Any],
    id_column: InstrumentedAttribute[str],
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Any], str | None]:
    """Rows of `query` after `cursor` in id order, at most `limit`, and the next cursor."""
    if cursor is not None:
        query = query.where(id_column > cursor)
    rows = session.scalars(query.order_by(id_column).limit(limit + 1)).all()
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(getattr(rows[-1], id_column.key))
    return rows, None


def paged(
    session: Session,
    query: Select[Any],
    id_column: InstrumentedAttribute[str],
    cursor: str | None,
    limit: int,
    render: Callable[[Any], R],
) -> Page[R]:
    """A Page of rendered rows: `page_of` plus the conversion every list route does."""
    rows, next_cursor = page_of(session, query, id_column, cursor, limit)
    return Page[R](items=[render(row) for row in rows], next_cursor=next_cursor)


def page_list(
    items: Sequence[T], id_of: Callable[[T], str], cursor: str | None, limit: int
) -> Page[T]:
    """One page of an already ordered, short list: the items after the one named by `cursor`."""
    start = 0
    if cursor is not None:
        ids = [id_of(item) for item in items]
        if cursor not in ids:
            raise BadCursor()
        start = ids.index(cursor) + 1
    chosen = list(items[start : start + limit])
    more = start + limit < len(items)
    return Page[T](items=chosen, next_cursor=id_of(chosen[-1]) if more and chosen else None)


def time_cursor(moment: datetime, row_id: str) -> str:
    """The opaque cursor after the row at `moment` with `row_id`, for a newest-first list."""
    raw = json.dumps([moment.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_time_cursor(cursor: str) -> tuple[datetime, str]:
    """The instant and id a `time_cursor` holds; BadCursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment_text, row_id = json.loads(raw)
        moment = datetime.fromisoformat(moment_text)
    except (ValueError, TypeError) as exc:
        raise BadCursor("the cursor is not one this service issued") from exc
    if moment.tzinfo is None or not isinstance(row_id, str):
        raise BadCursor("the cursor is not one this service issued")
    return moment, row_id
