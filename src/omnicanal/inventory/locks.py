"""Every stock row lock is taken here, always in (sku, location_id) order.

PostgreSQL: ``SELECT … FOR UPDATE`` ordered by the primary key, so two baskets touching the same
rows in opposite order queue instead of deadlocking. SQLite: the unit of work's
``BEGIN IMMEDIATE`` already serialises writers; the same query simply reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omnicanal.inventory.tables import StockLevelRow

Key = tuple[str, str]  # (sku, location_id)


def lock_levels(
    session: Session, keys: Iterable[Key], *, create: bool = False
) -> dict[Key, StockLevelRow]:
    """Lock the stock rows of ``keys``; with ``create``, missing rows are created at zero first."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    is_pg = session.get_bind().dialect.name == "postgresql"
    if create:
        from omnicanal.shared.clock import utcnow

        insert = postgresql.insert if is_pg else sqlite.insert
        now = utcnow()
        session.execute(
            insert(StockLevelRow)
            .values(
                [
                    {
                        "sku": s,
                        "location_id": loc,
                        "on_hand": 0,
                        "reserved": 0,
                        "committed": 0,
                        "damaged": 0,
                        "safety_stock": 0,
                        "incoming": 0,
                        "updated_at": now,
                    }
                    for s, loc in wanted
                ]
            )
            .on_conflict_do_nothing()
        )
    stmt = (
        select(StockLevelRow)
        .where(tuple_(StockLevelRow.sku, StockLevelRow.location_id).in_(wanted))
        .order_by(StockLevelRow.sku, StockLevelRow.location_id)
        .execution_options(populate_existing=True)
    )
    if is_pg:
        stmt = stmt.with_for_update()
    return {(row.sku, row.location_id): row for row in session.scalars(stmt)}
