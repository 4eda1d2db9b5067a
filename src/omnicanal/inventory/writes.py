"""The hot write path's statements (reserving), in SQLAlchemy Core: one ordered, locked read of
the stock rows, then executemany writes — the same rows the ORM path writes, without its flush.

Rows are locked in (sku, location_id) order like ``locks.lock_levels`` (no deadlocks between
baskets); SQLite's ``BEGIN IMMEDIATE`` already serialises writers. ORM objects of these rows
that a caller holds are re-read by ``lock_levels`` (``populate_existing``) before any change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from omnicanal.inventory.model import StockLevel
from omnicanal.inventory.tables import ReservationRow, StockLevelRow, StockMovementRow
from omnicanal.locations.tables import LocationRow

Key = tuple[str, str]
LEVELS = cast(Table, StockLevelRow.__table__)
RESERVATIONS = cast(Table, ReservationRow.__table__)
MOVEMENTS = cast(Table, StockMovementRow.__table__)
LOCATIONS = cast(Table, LocationRow.__table__)

_WRITE_LEVEL = (
    update(LEVELS)
    .where(LEVELS.c.sku == bindparam("k_sku"), LEVELS.c.location_id == bindparam("k_loc"))
    .values(
        on_hand=bindparam("v_on_hand"),
        reserved=bindparam("v_reserved"),
        committed=bindparam("v_committed"),
        damaged=bindparam("v_damaged"),
        updated_at=bindparam("v_now"),
    )
)


def location_facts(session: Session, location_id: str) -> Any:
    """Status, kind, name and capabilities of a location (None if unknown)."""
    return session.execute(
        select(
            LOCATIONS.c.status, LOCATIONS.c.kind, LOCATIONS.c.name, LOCATIONS.c.capabilities
        ).where(LOCATIONS.c.id == location_id)
    ).first()


def lock_level_values(session: Session, keys: Iterable[Key]) -> dict[Key, StockLevel]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    c = LEVELS.c
    stmt = (
        select(
            c.sku,
            c.location_id,
            c.on_hand,
            c.reserved,
            c.committed,
            c.damaged,
            c.safety_stock,
            c.incoming,
            c.low_stock_threshold,
        )
        .where(tuple_(c.sku, c.location_id).in_(wanted))
        .order_by(c.sku, c.location_id)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {(r[0], r[1]): StockLevel(*r) for r in session.execute(stmt)}


def write_levels(session: Session, levels: Sequence[StockLevel], now: datetime) -> None:
    session.execute(
        _WRITE_LEVEL,
        [
            {
                "k_sku": level.sku,
                "k_loc": level.location_id,
                "v_on_hand": level.on_hand,
                "v_reserved": level.reserved,
                "v_committed": level.committed,
                "v_damaged": level.damaged,
                "v_now": now,
            }
            for level in levels
        ],
    )


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(table), list(rows))
