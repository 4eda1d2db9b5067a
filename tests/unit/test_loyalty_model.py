"""Loyalty rules, pure: points per euro, tiers, expiry dates, lots taken nearest expiry first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.loyalty.model import (
    EarnLine,
    Lot,
    Tier,
    add_months,
    expiry_of,
    quote_earn,
    redemption_value_minor,
    share_of,
    take_from_lots,
    tier_for_spend,
)
from omnicanal.shared.errors import InvalidInput

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


def test_one_point_per_euro_rounded_down() -> None:
    quote = quote_earn(lines=[], amount_minor=8990, currency="EUR", tier=Tier.BASIC)
    assert quote.points == 89


def test_gold_earns_one_and_a_half_and_bonus_is_added_as_given() -> None:
    quote = quote_earn(
        lines=[], amount_minor=10000, currency="EUR", tier=Tier.GOLD, bonus_points=20
    )
    assert (quote.base_points, quote.multiplier, quote.points) == (100, Fraction(3, 2), 170)


def test_gift_cards_earn_nothing_and_discounts_lower_the_points() -> None:
    lines = [
        EarnLine("SHOE-42", 1, 8000, category="shoes"),
        EarnLine("GIFT-50", 1, 5000, category="gift-cards"),
    ]
    assert quote_earn(lines=lines, amount_minor=13000, currency="EUR", tier=Tier.BASIC).points == 80
    # 10% off the basket: earn on what was paid
    paid = quote_earn(lines=lines, amount_minor=11700, currency="EUR", tier=Tier.BASIC)
    assert paid.points == 72


def test_currencies_without_decimals_earn_per_unit() -> None:
    assert quote_earn(lines=[], amount_minor=1500, currency="JPY", tier=Tier.BASIC).points == 1500


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(InvalidInput):
        quote_earn(lines=[], amount_minor=-1, currency="EUR", tier=Tier.BASIC)


@pytest.mark.parametrize(
    ("spend", "tier"),
    [
        (0, Tier.BASIC),
        (29999, Tier.BASIC),
        (30000, Tier.SILVER),
        (100000, Tier.GOLD),
        (299999, Tier.GOLD),
        (300000, Tier.PLATINUM),
    ],
)
def test_tiers_by_rolling_spend(spend: int, tier: Tier) -> None:
    assert tier_for_spend(spend) is tier


def test_redemption_rate_is_100_points_per_euro() -> None:
    assert redemption_value_minor(500, "EUR") == 500
    assert redemption_value_minor(99, "JPY") == 0


def test_expiry_is_24_months_later_clamped_to_month_end() -> None:
    assert add_months(T0, 1) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert expiry_of(T0) == datetime(2028, 1, 31, 10, 0, tzinfo=UTC)


def test_share_of_a_partial_refund() -> None:
    assert share_of(90, 3000, 9000) == 30
    assert share_of(90, 12000, 9000) == 90
    assert share_of(90, 100, 0) == 0


def test_burn_takes_nearest_expiry_first_and_reversal_its_own_lot_first() -> None:
    lots = [
        Lot("lym_b", 50, T0 + timedelta(days=60)),
        Lot("lym_a", 30, T0 + timedelta(days=10)),
        Lot("lym_c", 40, T0 + timedelta(days=90)),
    ]
    assert take_from_lots(lots, 60) == [("lym_a", 30), ("lym_b", 30)]
    assert take_from_lots(lots, 60, first="lym_c") == [("lym_c", 40), ("lym_a", 20)]
    with pytest.raises(ValueError, match="lots hold"):
        take_from_lots(lots, 121)


@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 1000)), min_size=0, max_size=12),
    st.integers(0, 3000),
)
def test_take_from_lots_takes_exactly_what_is_asked_in_expiry_order(
    raw: list[tuple[int, int]], asked: int
) -> None:
    lots = [Lot(f"lym_{i:03d}", rem, T0 + timedelta(days=d)) for i, (rem, d) in enumerate(raw)]
    held = sum(lot.remaining for lot in lots)
    if asked > held:
        with pytest.raises(ValueError, match="lots hold"):
            take_from_lots(lots, asked)
        return
    plan = take_from_lots(lots, asked)
    assert sum(p for _, p in plan) == asked
    by_id = {lot.id: lot for lot in lots}
    assert all(0 < p <= by_id[i].remaining for i, p in plan)
    # every lot except the last one taken is emptied, and none expiring later was touched first
    for lot_id, points in plan[:-1]:
        assert points == by_id[lot_id].remaining
    if plan:
        last = by_id[plan[-1][0]]
        untouched = [lot for lot in lots if lot.id not in dict(plan) and lot.remaining > 0]
        assert all((u.expires_at, u.id) > (last.expires_at, last.id) for u in untouched)
