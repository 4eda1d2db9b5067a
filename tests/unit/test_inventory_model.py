"""The pure stock model: available-to-promise, holds, and the invariants it refuses to break."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.inventory.model import (
    AlertKind,
    HoldKind,
    InsufficientStock,
    MovementKind,
    StockLevel,
    channel_available,
    stock_alert,
)
from omnicanal.shared.errors import Conflict, InvalidInput


def level(**kw: int) -> StockLevel:
    return StockLevel("SKU-1", "loc_1", **kw)


def test_available_to_promise_is_defined_once() -> None:
    stock = level(on_hand=10, reserved=2, committed=3, damaged=1, safety_stock=1)
    assert stock.free == 4
    assert stock.available_to_promise == 3
    assert level(on_hand=2, safety_stock=5).available_to_promise == 0


def test_a_cart_cannot_reserve_beyond_what_can_be_promised() -> None:
    stock = level(on_hand=5, safety_stock=2)
    with pytest.raises(InsufficientStock) as refused:
        stock.reserve(4, HoldKind.CART)
    assert refused.value.extensions["available"] == 3
    assert stock.reserved == 0  # nothing changed
    movement = stock.reserve(3, HoldKind.CART)
    assert (movement.kind, movement.d_reserved) == (MovementKind.RESERVATION, 3)


def test_orders_commit_and_fulfilment_is_a_sale() -> None:
    stock = level(on_hand=5)
    stock.reserve(2, HoldKind.ORDER)
    assert (stock.reserved, stock.committed) == (0, 2)
    sale = stock.fulfil(2, HoldKind.ORDER)
    assert (sale.kind, sale.d_on_hand, sale.d_committed) == (MovementKind.SALE, -2, -2)
    assert (stock.on_hand, stock.committed) == (3, 0)


def test_till_sells_safety_stock_but_never_held_units() -> None:
    stock = level(on_hand=4, reserved=2, safety_stock=2)
    stock.sell(2)  # the two safety units are on the shelf in the customer's hands
    with pytest.raises(InsufficientStock) as refused:
        stock.sell(1)
    assert refused.value.extensions["available"] == 0
    assert stock.reserved == 2


def test_stock_take_cannot_go_below_held_units() -> None:
    stock = level(on_hand=5, reserved=2, committed=1)
    with pytest.raises(Conflict, match="3 unit"):
        stock.count(2)
    assert stock.count(3).d_on_hand == -2


def test_quantities_must_be_positive_whole_numbers() -> None:
    for bad in (0, -1, True):
        with pytest.raises(InvalidInput):
            level(on_hand=5).reserve(bad, HoldKind.CART)


def test_transfer_in_clears_incoming_even_when_short() -> None:
    stock = level(on_hand=0)
    stock.expect(5)
    movement = stock.transfer_in(4, 5)
    assert (stock.on_hand, stock.incoming, movement.d_incoming) == (4, 0, -5)
    with pytest.raises(InvalidInput):
        level().transfer_in(6, 5)


def test_alerts_fire_on_crossing_only() -> None:
    assert stock_alert(5, 2, 2) is AlertKind.LOW
    assert stock_alert(2, 1, 2) is None  # already low
    assert stock_alert(1, 0, 2) is AlertKind.OUT
    assert stock_alert(0, 3, 2) is AlertKind.BACK_IN_STOCK
    assert stock_alert(4, 4, 2) is None


def test_channel_availability_policy() -> None:
    stock = level(on_hand=6, reserved=1, safety_stock=2)
    assert channel_available(stock, channel="web", location_kind="store") == 3
    assert channel_available(stock, channel="marketplace", location_kind="store") == 2
    assert channel_available(stock, channel="marketplace", location_kind="warehouse") == 3
    assert channel_available(stock, channel="pos", location_kind="store", own_store=True) == 5
    assert channel_available(stock, channel="pos", location_kind="store") == 3


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "receive",
                "reserve_cart",
                "reserve_order",
                "release",
                "fulfil",
                "sell",
                "count",
                "damage",
                "write_off",
                "return",
                "transfer_out",
            ]
        ),
        st.integers(min_value=1, max_value=8),
    ),
    max_size=60,
)


@given(OPS, st.integers(min_value=0, max_value=3))
def test_any_sequence_keeps_invariants_and_movements_sum_to_levels(
    ops: list[tuple[str, int]], safety: int
) -> None:
    stock = level(safety_stock=safety)
    held = {HoldKind.CART: 0, HoldKind.ORDER: 0}
    for op, q in ops:
        try:
            if op == "receive":
                stock.receive(q)
            elif op in ("reserve_cart", "reserve_order"):
                hold = HoldKind.CART if op == "reserve_cart" else HoldKind.ORDER
                before = stock.available_to_promise
                stock.reserve(q, hold)
                assert q <= before
                held[hold] += q
            elif op in ("release", "fulfil"):
                hold = HoldKind.CART if held[HoldKind.CART] else HoldKind.ORDER
                if held[hold] >= q:
                    (stock.release if op == "release" else stock.fulfil)(q, hold)
                    held[hold] -= q
            elif op == "sell":
                stock.sell(q)
            elif op == "count":
                stock.count(q)
            elif op == "damage":
                stock.mark_damaged(q)
            elif op == "write_off":
                stock.write_off(q)
            elif op == "return":
                stock.take_return(q, sellable=q % 2 == 0)
            else:
                stock.transfer_out(q)
        except (InsufficientStock, Conflict):
            pass
        assert stock.free >= 0
        assert min(stock.on_hand, stock.reserved, stock.committed, stock.damaged) >= 0
    sums = [
        sum(getattr(m, f) for m in stock.history)
        for f in ("d_on_hand", "d_reserved", "d_committed", "d_damaged")
    ]
    assert sums == [stock.on_hand, stock.reserved, stock.committed, stock.damaged]
