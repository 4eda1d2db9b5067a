"""Inventory use cases on the real database: ledger, events, expiry, transfers, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from omnicanal.events.tables import OutboxEventRow
from omnicanal.inventory import service, transfers
from omnicanal.inventory.model import InsufficientStock
from omnicanal.inventory.service import Line, Reference
from omnicanal.inventory.tables import ReservationRow, StockMovementRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, Gone, InvalidInput, NotFound
from omnicanal.storage.database import Database
from tests.inventory_checks import assert_ledger_equals_levels, level_of
from tests.inventory_factories import make_location, make_skus


@pytest.fixture
def store(db: Database) -> str:
    location = make_location(db, "PAR-RIVOLI")
    make_skus(db, "SHOE-42", "SHOE-43", "SOCKS")
    with db.uow() as uow:
        service.receive(
            uow,
            location_id=location,
            lines=[Line("SHOE-42", 5), Line("SHOE-43", 3), Line("SOCKS", 10)],
            ref=Reference("delivery", "DLV-1"),
        )
    return location


def event_types(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(OutboxEventRow.type).order_by(OutboxEventRow.seq)))


def test_reserve_release_fulfil_move_the_right_buckets(db: Database, store: str) -> None:
    with db.uow() as uow:
        cart = service.reserve(
            uow,
            owner_type="cart",
            owner_id="crt_1",
            location_id=store,
            lines=[Line("SHOE-42", 2)],
            channel="web",
        )
        order = service.reserve(
            uow,
            owner_type="order",
            owner_id="ord_1",
            location_id=store,
            lines=[Line("SHOE-43", 1)],
            channel="web",
        )
    level = level_of(db, "SHOE-42", store)
    assert (level.on_hand, level.reserved) == (5, 2)
    assert level_of(db, "SHOE-43", store).committed == 1
    with db.uow() as uow:
        service.release(uow, cart[0].id)
        service.fulfil(uow, order[0].id)
    assert level_of(db, "SHOE-42", store).reserved == 0
    shoe43 = level_of(db, "SHOE-43", store)
    assert (shoe43.on_hand, shoe43.committed) == (2, 0)
    with pytest.raises(Conflict, match="already released"), db.uow() as uow:
        service.release(uow, cart[0].id)
    types = event_types(db)
    assert "inventory.reservation.created" in types
    assert "inventory.reservation.released" in types
    assert "inventory.reservation.fulfilled" in types
    assert_ledger_equals_levels(db)


def test_basket_is_all_or_nothing(db: Database, store: str) -> None:
    with pytest.raises(InsufficientStock) as refused, db.uow() as uow:
        service.reserve(
            uow,
            owner_type="cart",
            owner_id="crt_1",
            location_id=store,
            lines=[Line("SHOE-42", 1), Line("SHOE-43", 9)],
        )
    assert refused.value.extensions == {
        "sku": "SHOE-43",
        "location_id": store,
        "requested": 9,
        "available": 3,
    }
    assert level_of(db, "SHOE-42", store).reserved == 0
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ReservationRow)) == 0


def test_expired_holds_are_swept_and_cannot_be_fulfilled(
    db: Database, store: str, clock: FrozenClock
) -> None:
    with db.uow() as uow:
        [hold] = service.reserve(
            uow,
            owner_type="cart",
            owner_id="crt_1",
            location_id=store,
            lines=[Line("SHOE-42", 2)],
            ttl_minutes=30,
        )
    clock.advance(minutes=29)
    with db.uow() as uow:
        assert service.sweep_expired(uow) == 0
    clock.advance(minutes=2)
    with pytest.raises(Gone, match="expired"), db.uow() as uow:
        service.fulfil(uow, hold.id)
    with db.uow() as uow:
        assert service.sweep_expired(uow) == 1
    assert level_of(db, "SHOE-42", store).reserved == 0
    with db.read() as s:
        assert s.get(ReservationRow, hold.id).status == "expired"  # type: ignore[union-attr]
        kinds = list(s.scalars(select(StockMovementRow.kind).order_by(StockMovementRow.seq)))
    assert kinds[-1] == "expiry"
    assert_ledger_equals_levels(db)


def test_low_and_out_of_stock_alerts_are_emitted_once(db: Database, store: str) -> None:
    back_before = event_types(db).count("inventory.stock.back_in_stock")
    with db.uow() as uow:
        service.sell_at_till(uow, location_id=store, lines=[Line("SHOE-42", 3)])  # ATP 5 -> 2
        service.sell_at_till(uow, location_id=store, lines=[Line("SHOE-42", 1)])  # 2 -> 1
        service.sell_at_till(uow, location_id=store, lines=[Line("SHOE-42", 1)])  # 1 -> 0
    types = event_types(db)
    assert types.count("inventory.stock.low") == 1
    assert types.count("inventory.stock.out") == 1
    with db.uow() as uow:
        service.receive(uow, location_id=store, lines=[Line("SHOE-42", 4)])
    assert event_types(db).count("inventory.stock.back_in_stock") == back_before + 1


def test_transfer_moves_stock_through_the_ledger(db: Database, store: str) -> None:
    warehouse = make_location(db, "WH-1", kind="warehouse", capabilities=("ship",))
    with db.uow() as uow:
        draft = transfers.create_transfer(
            uow, from_location_id=store, to_location_id=warehouse, lines=[Line("SOCKS", 6)]
        )
        transfer_id = draft.id
    with db.uow() as uow:
        transfers.ship_transfer(uow, transfer_id)
    assert level_of(db, "SOCKS", store).on_hand == 4
    assert level_of(db, "SOCKS", warehouse).incoming == 6
    with db.uow() as uow:
        received = transfers.receive_transfer(uow, transfer_id, received={"SOCKS": 5})
        assert received.status == "received"
    target = level_of(db, "SOCKS", warehouse)
    assert (target.on_hand, target.incoming) == (5, 0)
    with pytest.raises(Conflict, match="only a draft"), db.uow() as uow:
        transfers.cancel_transfer(uow, transfer_id)
    assert "inventory.transfer.received" in event_types(db)
    assert_ledger_equals_levels(db)


def test_bad_input_names_the_culprit_and_changes_nothing(db: Database, store: str) -> None:
    def movements() -> int:
        with db.read() as s:
            return int(s.scalar(select(func.count()).select_from(StockMovementRow)) or 0)

    before = movements()
    with pytest.raises(NotFound) as unknown_sku, db.uow() as uow:
        service.reserve(
            uow, owner_type="cart", owner_id="c", location_id=store, lines=[Line("NOPE", 1)]
        )
    assert unknown_sku.value.extensions["sku"] == "NOPE"
    with pytest.raises(NotFound) as unknown_location, db.uow() as uow:
        service.receive(uow, location_id="loc_missing", lines=[Line("SOCKS", 1)])
    assert unknown_location.value.field == "location_id"
    with pytest.raises(InvalidInput) as negative, db.uow() as uow:
        service.receive(uow, location_id=store, lines=[Line("SOCKS", -2)])
    assert negative.value.field == "lines[0].quantity"
    with pytest.raises(InvalidInput, match="appears twice"), db.uow() as uow:
        service.sell_at_till(uow, location_id=store, lines=[Line("SOCKS", 1), Line("SOCKS", 1)])
    with pytest.raises(InvalidInput, match="owner_type"), db.uow() as uow:
        service.reserve(
            uow, owner_type="wishlist", owner_id="c", location_id=store, lines=[Line("SOCKS", 1)]
        )
    assert movements() == before


def test_stock_take_sets_counted_quantity(db: Database, store: str) -> None:
    with db.uow() as uow:
        service.adjust(
            uow,
            location_id=store,
            sku="SOCKS",
            counted=7,
            ref=Reference("adjustment", None, "cycle count"),
        )
        service.set_level_settings(uow, location_id=store, sku="SOCKS", safety_stock=2)
    level = level_of(db, "SOCKS", store)
    assert (level.on_hand, level.safety_stock) == (7, 2)
    assert_ledger_equals_levels(db)
