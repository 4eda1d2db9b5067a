"""J8 never oversell: real threads racing on the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from omnicanal.inventory import service
from omnicanal.inventory.model import InsufficientStock
from omnicanal.inventory.service import Line
from omnicanal.inventory.tables import ReservationRow
from omnicanal.storage.database import Database
from tests.inventory_checks import assert_ledger_equals_levels, level_of
from tests.inventory_factories import make_location, make_skus


def race(n: int, attempt: Callable[[int], None]) -> tuple[int, int]:
    """Run ``attempt(i)`` in n threads released together; count successes and refusals."""
    barrier = threading.Barrier(n)
    won: list[int] = []
    refused: list[int] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            won.append(i)
        except InsufficientStock:
            refused.append(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return len(won), len(refused)


def stocked_store(db: Database, units: int, *skus: str) -> str:
    store = make_location(db)
    make_skus(db, *skus)
    with db.uow() as uow:
        service.receive(uow, location_id=store, lines=[Line(s, units) for s in skus])
    return store


def test_fifty_buyers_race_for_ten_units_and_exactly_ten_are_reserved(db: Database) -> None:
    store = stocked_store(db, 10, "LAST-PAIR")

    def buy(i: int) -> None:
        with db.uow() as uow:
            service.reserve(
                uow,
                owner_type="order",
                owner_id=f"ord_{i}",
                location_id=store,
                lines=[Line("LAST-PAIR", 1)],
                channel=("web", "app", "pos")[i % 3],
            )

    won, refused = race(50, buy)
    assert (won, refused) == (10, 40)
    level = level_of(db, "LAST-PAIR", store)
    assert (level.on_hand, level.committed) == (10, 10)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ReservationRow)) == 10
    assert_ledger_equals_levels(db)


def test_tills_and_web_race_for_the_shelf(db: Database) -> None:
    store = stocked_store(db, 10, "LAST-PAIR")

    def sell_or_reserve(i: int) -> None:
        with db.uow() as uow:
            if i % 2:
                service.sell_at_till(uow, location_id=store, lines=[Line("LAST-PAIR", 1)])
            else:
                service.reserve(
                    uow,
                    owner_type="cart",
                    owner_id=f"crt_{i}",
                    location_id=store,
                    lines=[Line("LAST-PAIR", 1)],
                )

    won, _ = race(40, sell_or_reserve)
    level = level_of(db, "LAST-PAIR", store)
    assert won == 10
    assert level.on_hand - level.reserved == 0
    assert_ledger_equals_levels(db)


def test_baskets_in_opposite_order_neither_deadlock_nor_split(db: Database) -> None:
    store = stocked_store(db, 6, "SKU-A", "SKU-B")

    def basket(i: int) -> None:
        lines = [Line("SKU-A", 1), Line("SKU-B", 1)]
        with db.uow() as uow:
            service.reserve(
                uow,
                owner_type="cart",
                owner_id=f"crt_{i}",
                location_id=store,
                lines=lines if i % 2 else list(reversed(lines)),
            )

    won, refused = race(16, basket)
    assert (won, refused) == (6, 10)
    assert level_of(db, "SKU-A", store).reserved == level_of(db, "SKU-B", store).reserved == 6
    assert_ledger_equals_levels(db)
