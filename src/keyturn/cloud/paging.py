"""Cursor pagination shared by every list route: one page of items and the next page's cursor.

A cursor is the id of the previous page's last item and lists are ordered by id, so paging
stays stable while rows are added elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")
R = TypeVar("R")
MAX_PAGE = 100
DEFAULT_PAGE = 50

Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=36, description="`next_cursor` of the previous page"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` to get the next one."""

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
