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

from sqlalchemy import Connection, Table, bindparam, insert, select, tuple_, update
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


_LOCATION_FACTS = select(
    LOCATIONS.c.status, LOCATIONS.c.kind, LOCATIONS.c.name, LOCATIONS.c.capabilities
).where(LOCATIONS.c.id == bindparam("loc"))
_LEVEL_VALUES = (
    select(
        LEVELS.c.sku,
        LEVELS.c.location_id,
        LEVELS.c.on_hand,
        LEVELS.c.reserved,
        LEVELS.c.committed,
        LEVELS.c.damaged,
        LEVELS.c.safety_stock,
        LEVELS.c.incoming,
        LEVELS.c.low_stock_threshold,
    )
    .where(tuple_(LEVELS.c.sku, LEVELS.c.location_id).in_(bindparam("keys", expanding=True)))
    .order_by(LEVELS.c.sku, LEVELS.c.location_id)
)
_LEVEL_VALUES_LOCKED = _LEVEL_VALUES.with_for_update()
_INSERTS: dict[str, Any] = {}


def _conn(session: Session) -> Connection:
    """The session's connection, in its transaction: Core statements skip the ORM's execution
    layer (these statements are built once, so only their parameters change per call). Pending
    ORM changes are flushed first, as the ORM's autoflush would: a release made through the ORM
    earlier in the same unit of work must be seen by the locked read that follows."""
    session.flush()  # a no-op when nothing is pending
    return session.connection()


def location_facts(session: Session, location_id: str) -> Any:
    """Status, kind, name and capabilities of a location (None if unknown)."""
    return _conn(session).execute(_LOCATION_FACTS, {"loc": location_id}).first()


def lock_level_values(session: Session, keys: Iterable[Key]) -> dict[Key, StockLevel]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    conn = _conn(session)
    stmt = _LEVEL_VALUES_LOCKED if conn.dialect.name == "postgresql" else _LEVEL_VALUES
    return {(r[0], r[1]): StockLevel(*r) for r in conn.execute(stmt, {"keys": wanted})}


def write_levels(session: Session, levels: Sequence[StockLevel], now: datetime) -> None:
    _conn(session).execute(
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
        stmt = _INSERTS.get(table.name)
        if stmt is None:
            stmt = _INSERTS[table.name] = insert(table)
        _conn(session).execute(stmt, list(rows))
