"""Keyset pagination over any select: ``?limit=&cursor=`` on every list of the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from omnicanal.shared.pagination import check_limit, decode_cursor, encode_cursor

T = TypeVar("T")


def keyset_page(
    session: Session,
    stmt: Select[T],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int,
) -> tuple[list[T], str | None]:
    """One page of ``stmt``'s entities ordered by ``order_by`` (unique together), after ``cursor``.

    Returns the entities and the cursor of the next page (None on the last page).
    """
    check_limit(limit)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != len(order_by):
            decode_cursor("!")  # raises the same actionable error as a garbled cursor
        stmt = stmt.where(tuple_(*order_by) > tuple_(*values))
    rows = list(session.scalars(stmt.order_by(*order_by).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, col.key) for col in order_by])
