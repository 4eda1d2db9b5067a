"""Invariant checks on the real database, shared by inventory tests."""

from __future__ import annotations

from sqlalchemy import func, select

from omnicanal.inventory.tables import StockLevelRow, StockMovementRow
from omnicanal.storage.database import Database

BUCKETS = ("on_hand", "reserved", "committed", "damaged", "incoming")


def assert_ledger_equals_levels(db: Database) -> None:
    m = StockMovementRow
    with db.read() as s:
        sums = {
            (row[0], row[1]): tuple(int(v) for v in row[2:])
            for row in s.execute(
                select(
                    m.sku,
                    m.location_id,
                    func.sum(m.d_on_hand),
                    func.sum(m.d_reserved),
                    func.sum(m.d_committed),
                    func.sum(m.d_damaged),
                    func.sum(m.d_incoming),
                ).group_by(m.sku, m.location_id)
            )
        }
        for level in s.scalars(select(StockLevelRow)):
            actual = tuple(getattr(level, b) for b in BUCKETS)
            expected = sums.get((level.sku, level.location_id), (0, 0, 0, 0, 0))
            assert actual == expected, (
                f"{level.sku}@{level.location_id}: {actual} != ledger {expected}"
            )
            assert level.on_hand - level.reserved - level.committed - level.damaged >= 0


def level_of(db: Database, sku: str, location_id: str) -> StockLevelRow:
    with db.read() as s:
        row = s.get(StockLevelRow, (sku, location_id))
        assert row is not None
        return row
