"""Till sync against the real database: concurrent resends record a sale once, two tills racing
for a store's last pairs never take stock below what is held for others, and till sales follow
the customer's merges and erasure."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnicanal.events.model import StoredEvent
from omnicanal.events.tables import OutboxEventRow
from omnicanal.inventory import service as inventory
from omnicanal.inventory.service import Line
from omnicanal.inventory.tables import StockMovementRow
from omnicanal.loyalty.tables import LoyaltyPurchaseRow
from omnicanal.storage.database import Database
from omnicanal.tills import consumers, service
from omnicanal.tills.model import Outcome, SaleLine, TillSale
from omnicanal.tills.service import SaleResult, Till
from omnicanal.tills.tables import TillSaleRow, TillStockConflictRow
from tests.inventory_checks import assert_ledger_equals_levels, level_of
from tests.inventory_factories import make_location, make_skus


@pytest.fixture
def store(db: Database) -> str:
    make_skus(db, "BOOT-40", "LACES")
    store_id = make_location(db, "TILL-STORE")
    with db.uow() as uow:
        inventory.receive(uow, location_id=store_id, lines=[Line("BOOT-40", 3), Line("LACES", 9)])
    return store_id


def a_sale(db: Database, sale_id: str, *lines: tuple[str, int], **more: str) -> TillSale:
    return TillSale(
        sale_id=sale_id,
        sold_at=db.clock.now() - timedelta(hours=3),
        currency="EUR",
        lines=tuple(SaleLine(sku=s, quantity=q, unit_price_minor=12900) for s, q in lines),
        **more,  # type: ignore[arg-type]
    )


def count(db: Database, table: type, *where: object) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(table).where(*where)) or 0  # type: ignore[arg-type]


def race(n: int, work: object) -> list[SaleResult]:
    results: list[SaleResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            results.extend(work(i))  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_one_sale_resent_by_eight_threads_is_recorded_once(db: Database, store: str) -> None:
    till = Till(store_id=store, till_id="T1", channel="pos")
    sale = a_sale(db, "0042", ("BOOT-40", 1), card="RACE-0001")
    results = race(8, lambda i: service.sync_batch(db, till=till, sales=[sale]).sales)
    assert sorted(r.outcome for r in results) == [Outcome.DUPLICATE] * 7 + [Outcome.RECORDED]
    assert len({r.till_sale_id for r in results}) == 1
    assert count(db, TillSaleRow) == 1
    assert count(db, LoyaltyPurchaseRow) == 1
    assert count(db, StockMovementRow, StockMovementRow.kind == "sale") == 1
    assert count(db, OutboxEventRow, OutboxEventRow.type == "tills.sale.recorded") == 1
    assert level_of(db, "BOOT-40", store).on_hand == 2
    assert_ledger_equals_levels(db)


def test_two_tills_selling_the_last_pairs_report_the_shortfall_without_going_negative(
    db: Database, store: str
) -> None:
    with db.uow() as uow:  # one pair held for a web cart: no till may take it
        inventory.reserve(
            uow,
            owner_type="cart",
            owner_id="crt_web",
            location_id=store,
            lines=[Line("BOOT-40", 1)],
        )
    tills = [Till(store_id=store, till_id=f"T{i}", channel="pos") for i in range(4)]
    results = race(
        4,
        lambda i: (
            service.sync_batch(
                db, till=tills[i], sales=[a_sale(db, "0001", ("BOOT-40", 1), ("LACES", 1))]
            ).sales
        ),
    )
    assert [r.outcome for r in results] == [Outcome.RECORDED] * 4
    boots = level_of(db, "BOOT-40", store)
    assert (boots.on_hand, boots.reserved) == (1, 1)  # 3 - 2 sold; the held pair stayed held
    assert level_of(db, "LACES", store).on_hand == 5
    with db.read() as s:
        conflicts = list(s.scalars(select(TillStockConflictRow)))
    assert sorted((c.sku, c.sold, c.short_by) for c in conflicts) == [("BOOT-40", 1, 1)] * 2
    assert sum(len(r.stock_conflicts) for r in results) == 2
    assert count(db, OutboxEventRow, OutboxEventRow.type == "tills.stock.conflict") == 2
    assert_ledger_equals_levels(db)


def _deliver(uow_db: Database, type_: str, data: dict[str, object]) -> None:
    event = StoredEvent(
        id="evt_test",
        type=type_,
        subject=None,
        data=data,
        occurred_at=uow_db.clock.now(),
        position=1,
    )
    with uow_db.uow() as uow:
        consumers.CONSUMERS[0].handle(uow, event)


def test_till_sales_follow_a_merge_and_forget_an_erased_customer(db: Database, store: str) -> None:
    till = Till(store_id=store, till_id="T1", channel="pos")
    first = service.sync_batch(
        db, till=till, sales=[a_sale(db, "1", ("LACES", 1), card="CARD-0001")]
    )
    absorbed = first.sales[0].customer_id
    assert absorbed is not None
    _deliver(
        db, "customers.profile.merged", {"survivor_id": "cus_survivor", "absorbed_ids": [absorbed]}
    )
    with db.read() as s:
        assert s.scalar(select(TillSaleRow.customer_id)) == "cus_survivor"
    _deliver(
        db,
        "customers.profile.erased",
        {"profile_id": "cus_survivor", "erased_ids": [absorbed], "erased_at": "", "reason": ""},
    )
    with db.read() as s:
        row = s.scalars(select(TillSaleRow)).one()
    assert (row.customer_id, row.identified) == (None, True)  # still counts as identified
