"""Random operation sequences through the real services keep every stock invariant."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnicanal.inventory import service, transfers
from omnicanal.inventory.model import InsufficientStock
from omnicanal.inventory.service import Line
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, Gone
from omnicanal.storage.database import Database
from tests.inventory_checks import assert_ledger_equals_levels
from tests.inventory_factories import make_location, make_skus

_run = itertools.count()

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "receive",
                "reserve",
                "order",
                "release",
                "fulfil",
                "sell",
                "count",
                "damage",
                "transfer",
                "expire",
                "return",
            ]
        ),
        st.integers(min_value=1, max_value=6),
        st.booleans(),
    ),
    min_size=5,
    max_size=30,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_random_operations_keep_free_stock_non_negative_and_ledger_equal_to_levels(
    db: Database, clock: FrozenClock, ops: list[tuple[str, int, bool]]
) -> None:
    n = next(_run)
    sku = f"PROP-{n}"
    make_skus(db, sku)
    here, there = make_location(db, f"P{n}-A"), make_location(db, f"P{n}-B")
    holds: list[str] = []
    for op, q, flag in ops:
        where = here if flag else there
        try:
            with db.uow() as uow:
                if op == "receive":
                    service.receive(uow, location_id=where, lines=[Line(sku, q)])
                elif op in ("reserve", "order"):
                    rows = service.reserve(
                        uow,
                        owner_type="cart" if op == "reserve" else "order",
                        owner_id=f"o{q}",
                        location_id=where,
                        lines=[Line(sku, q)],
                        ttl_minutes=10,
                    )
                    holds += [r.id for r in rows]
                elif op in ("release", "fulfil") and holds:
                    close = service.release if op == "release" else service.fulfil
                    close(uow, holds.pop(q % len(holds)))
                elif op == "sell":
                    service.sell_at_till(uow, location_id=where, lines=[Line(sku, q)])
                elif op == "count":
                    service.adjust(uow, location_id=where, sku=sku, counted=q)
                elif op == "damage":
                    service.mark_damaged(uow, location_id=where, lines=[Line(sku, q)])
                elif op == "return":
                    service.take_return(uow, location_id=where, lines=[Line(sku, q)], sellable=flag)
                elif op == "transfer":
                    draft = transfers.create_transfer(
                        uow,
                        from_location_id=where,
                        to_location_id=there if flag else here,
                        lines=[Line(sku, q)],
                    )
                    transfers.ship_transfer(uow, draft.id)
                    transfers.receive_transfer(uow, draft.id)
                elif op == "expire":
                    clock.advance(minutes=11)
                    service.sweep_expired(uow)
        except (InsufficientStock, Conflict, Gone):
            pass
        assert_ledger_equals_levels(db)
