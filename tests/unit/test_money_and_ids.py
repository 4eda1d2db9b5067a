from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.geo import haversine_km
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money


def test_money_keeps_exact_minor_units() -> None:
    price = Money.of("19.99", "eur")
    assert price == Money(1999, "EUR")
    assert price.amount == Decimal("19.99")
    assert str(price.times(3)) == "59.97 EUR"


def test_money_refuses_sub_cent_amounts_and_unknown_currencies() -> None:
    with pytest.raises(InvalidInput, match="more than 2 decimals"):
        Money.of("1.005", "EUR")
    with pytest.raises(InvalidInput, match="Unknown currency"):
        Money.of("1", "EURO")
    with pytest.raises(InvalidInput, match="Cannot combine"):
        _ = Money.of("1", "EUR") + Money.of("1", "USD")


def test_zero_decimal_currency() -> None:
    assert Money.of("500", "JPY").minor == 500


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False))
def test_money_round_trips_any_two_decimal_amount(amount: Decimal) -> None:
    assert Money.of(amount, "EUR").amount == amount


def test_ids_are_prefixed_unique_and_time_sortable() -> None:
    ids = [new_id("ord") for _ in range(1000)]
    assert all(i.startswith("ord_") and len(i) == 30 for i in ids)
    assert len(set(ids)) == 1000
    with pytest.raises(ValueError, match="unknown id prefix"):
        new_id("order")


def test_haversine_paris_lyon() -> None:
    # Paris Notre-Dame to Lyon Bellecour is about 392 km as the crow flies.
    assert haversine_km(48.853, 2.3499, 45.7578, 4.832) == pytest.approx(392, abs=3)
