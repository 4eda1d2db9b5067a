"""Property: whatever batches a till sends — its sales resent, duplicated, shuffled, split at
random — each sale is recorded once (stock, loyalty, events), the ledger sums to the levels,
no stock bucket goes below what is held, and every unit sold is either off stock or in a
conflict."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from omnicanal.events.tables import OutboxEventRow
from omnicanal.inventory import service as inventory
from omnicanal.inventory.service import Line
from omnicanal.inventory.tables import StockLevelRow, StockMovementRow
from omnicanal.loyalty.tables import LoyaltyMovementRow, LoyaltyPurchaseRow
from omnicanal.storage.database import Database
from omnicanal.tills import service
from omnicanal.tills.model import Outcome, SaleLine, TillSale
from omnicanal.tills.service import Till
from omnicanal.tills.tables import TillSaleRow, TillStockConflictRow
from tests.inventory_checks import assert_ledger_equals_levels
from tests.inventory_factories import make_location, make_skus

_run = itertools.count()
SKUS = ("A", "B", "C")

SALE = st.tuples(
    st.dictionaries(st.sampled_from(SKUS), st.integers(1, 4), min_size=1, max_size=3),
    st.integers(0, 240),  # hours before now
    st.sampled_from([None, 0, 1]),  # anonymous, or one of two cards
    st.integers(100, 4_990),  # unit price in cents
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sales=st.lists(SALE, min_size=1, max_size=8),
    stock=st.tuples(*[st.integers(0, 6)] * 3),
    held=st.integers(0, 2),
    copies=st.lists(st.integers(1, 3), min_size=8, max_size=8),
    seed=st.integers(0, 10_000),
)
def test_any_resend_order_counts_each_sale_once(
    db: Database,
    sales: list[tuple[dict[str, int], int, int | None, int]],
    stock: tuple[int, int, int],
    held: int,
    copies: list[int],
    seed: int,
) -> None:
    n = next(_run)
    skus = {s: f"P{n}-{s}" for s in SKUS}
    make_skus(db, *skus.values())
    store = make_location(db, f"PROP-TILL-{n}")
    received = [Line(skus[s], q) for s, q in zip(SKUS, stock, strict=True) if q]
    with db.uow() as uow:
        if received:
            inventory.receive(uow, location_id=store, lines=received)
        if held and stock[0] >= held:  # a web cart holds pairs the tills must not take
            inventory.reserve(
                uow,
                owner_type="cart",
                owner_id="crt",
                location_id=store,
                lines=[Line(skus["A"], held)],
            )
    now = db.clock.now()
    cards = [f"PROP{n:04d}X{c}" for c in range(2)]
    originals = [
        TillSale(
            sale_id=f"S{i}",
            sold_at=now - timedelta(hours=hours),
            currency="EUR",
            lines=tuple(
                SaleLine(sku=skus[s], quantity=q, unit_price_minor=price) for s, q in lines.items()
            ),
            card=cards[card] if card is not None else None,
        )
        for i, (lines, hours, card, price) in enumerate(sales)
    ]
    sent = [s for s, k in zip(originals, copies, strict=False) for _ in range(k)]
    rng = random.Random(seed)
    rng.shuffle(sent)
    till = Till(store_id=store, till_id="T1", channel="pos")
    outcomes: Counter[Outcome] = Counter()
    while sent:
        size = rng.randint(1, len(sent))
        batch, sent = sent[:size], sent[size:]
        outcomes.update(r.outcome for r in service.sync_batch(db, till=till, sales=batch).sales)
    assert outcomes[Outcome.RECORDED] == len(originals)
    assert set(outcomes) <= {Outcome.RECORDED, Outcome.DUPLICATE}

    assert_ledger_equals_levels(db)  # and free stock ≥ 0 at every level
    with db.read() as s:
        rows = list(s.scalars(select(TillSaleRow).where(TillSaleRow.store_id == store)))
        assert sorted(r.sale_id for r in rows) == sorted(o.sale_id for o in originals)
        ids = [r.id for r in rows]
        events = Counter(
            e.subject
            for e in s.scalars(
                select(OutboxEventRow).where(OutboxEventRow.type == "tills.sale.recorded")
            )
        )
        assert all(events[i] == 1 for i in ids)
        # every unit sold is off the shelf or in a conflict, once
        sold = Counter[str]()
        for o in originals:
            for line in o.lines:
                sold[line.sku] += line.quantity
        off = Counter[str]()
        for m in s.scalars(
            select(StockMovementRow).where(
                StockMovementRow.kind == "sale", StockMovementRow.location_id == store
            )
        ):
            assert m.reference_id in ids
            off[m.sku] -= m.d_on_hand
        short = Counter[str]()
        for c in s.scalars(
            select(TillStockConflictRow).where(TillStockConflictRow.store_id == store)
        ):
            short[c.sku] += c.short_by
        assert off + short == sold
        for level in s.scalars(select(StockLevelRow).where(StockLevelRow.location_id == store)):
            assert level.reserved == (held if level.sku == skus["A"] and stock[0] >= held else 0)
        # loyalty: one purchase per sale, one earn per identified sale, the same points
        refs = [f"{store}/T1/{o.sale_id}" for o in originals]
        purchases = list(
            s.scalars(select(LoyaltyPurchaseRow).where(LoyaltyPurchaseRow.ref_id.in_(refs)))
        )
        assert len(purchases) == len(originals)
        earned = s.scalar(
            select(func.coalesce(func.sum(LoyaltyMovementRow.points), 0)).where(
                LoyaltyMovementRow.ref_id.in_(refs), LoyaltyMovementRow.kind == "earn"
            )
        )
        assert (
            earned == sum(r.points_earned for r in rows) == sum(p.points_earned for p in purchases)
        )
        identified = [o for o in originals if o.card is not None]
        assert earned >= sum(o.total_minor // 100 for o in identified)
