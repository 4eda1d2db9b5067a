"""The demo retailer meets the spec and its ledger sums to its levels from the first second."""

from __future__ import annotations

from sqlalchemy import func, select

from omnicanal.catalog.tables import BasePriceRow, VariantRow
from omnicanal.demo.keys import DEMO_KEYS, create_demo_keys
from omnicanal.demo.seed import gtin13, seed_retailer
from omnicanal.inventory.tables import StockLevelRow, StockMovementRow
from omnicanal.locations.tables import LocationRow
from omnicanal.storage.database import Database


def test_demo_retailer_has_stores_warehouses_and_stocked_skus(db: Database) -> None:
    report = seed_retailer(db)
    with db.read() as s:
        kinds = dict(
            s.execute(select(LocationRow.kind, func.count()).group_by(LocationRow.kind)).all()
        )
        skus = s.scalar(select(func.count()).select_from(VariantRow))
        priced = s.scalar(select(func.count()).select_from(BasePriceRow))
        stocked = s.scalar(
            select(func.count(func.distinct(StockLevelRow.sku))).where(StockLevelRow.on_hand > 0)
        )
        levels = s.execute(
            select(StockLevelRow.sku, StockLevelRow.location_id, StockLevelRow.on_hand)
        ).all()
        ledger = {
            (sku, loc): total
            for sku, loc, total in s.execute(
                select(
                    StockMovementRow.sku,
                    StockMovementRow.location_id,
                    func.sum(StockMovementRow.d_on_hand),
                ).group_by(StockMovementRow.sku, StockMovementRow.location_id)
            )
        }
    assert kinds["store"] >= 20
    assert kinds["warehouse"] == 2
    assert skus == priced == report.variants >= 2000
    assert stocked == skus
    assert len(levels) == report.levels
    assert all(ledger[(sku, loc)] == on_hand for sku, loc, on_hand in levels)


def test_demo_keys_are_created_for_every_channel(db: Database) -> None:
    seed_retailer(db, skus=50)
    created = create_demo_keys(db)
    assert {channel for channel, _, _ in created} == {k[2] for k in DEMO_KEYS}
    assert {"web", "app", "pos", "callcenter", "marketplace", "admin"} <= {c for c, _, _ in created}


def test_gtin13_check_digit() -> None:
    assert gtin13("400638133393") == "4006381333931"  # a published GS1 example
