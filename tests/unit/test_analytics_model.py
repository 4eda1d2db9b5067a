"""KPI arithmetic without a database: values from sums, periods, spend spreading, Welch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.analytics.definitions import KPIS, METRICS, Unit
from omnicanal.analytics.identity import counted
from omnicanal.analytics.model import (
    Period,
    evaluate,
    period_of,
    spread,
    store_day_value,
    welch,
)
from omnicanal.analytics.service import grains
from omnicanal.analytics.tables import DailyRollupRow, MonthlyRollupRow
from omnicanal.shared.errors import InvalidInput


def test_every_kpi_is_defined_once_with_titles_unit_and_formula() -> None:
    assert len(KPIS) == 31
    for kpi in KPIS.values():
        assert all((kpi.title_en, kpi.title_fr, kpi.formula, kpi.description)), kpi.code
        assert kpi.metrics <= METRICS.keys()
        assert kpi.sources, kpi.code
    assert KPIS["average_basket"].unit is Unit.MONEY
    assert KPIS["cc_pickup_wait"].unit is Unit.SECONDS


def test_money_ratio_rounds_half_even_to_the_currency() -> None:
    sums = {("sale", "total"): 3001, ("sale", "n"): 2}
    got = evaluate(KPIS["average_basket"], "web", sums, "EUR")
    assert (got.value, got.numerator, got.denominator) == (
        Decimal("15.00"),  # 15.005 -> 15.00
        Decimal("30.01"),
        Decimal("2"),
    )
    assert (got.group, got.unit, got.currency) == ("web", "money", "EUR")
    assert evaluate(KPIS["average_basket"], None, sums, "JPY").value == Decimal("1500")


def test_a_ratio_with_nothing_to_measure_is_none_and_a_total_is_zero() -> None:
    assert evaluate(KPIS["cc_no_show_rate"], None, {}, None).value is None
    assert evaluate(KPIS["order_count"], None, {}, None).value == Decimal(0)


def test_combinations_subtract_and_scale() -> None:
    sums = {
        ("sale", "total"): 10000,
        ("sale", "n"): 4,
        ("sale.identified", "total"): 7000,
        ("sale.identified", "n"): 1,
        ("csat", "n"): 4,
        ("csat.promoter", "n"): 2,
        ("csat.detractor", "n"): 1,
    }
    assert evaluate(KPIS["average_basket_anonymous"], None, sums, "EUR").value == Decimal("10.00")
    assert evaluate(KPIS["nps"], None, sums, None).value == Decimal("25.00")
    churn = {("customer.retention_base", "n"): 8, ("customer.retained", "n"): 6}
    assert evaluate(KPIS["churn_rate"], None, churn, None).value == Decimal("0.250000")
    assert evaluate(KPIS["retention_rate"], None, churn, None).value == Decimal("0.750000")


def test_store_day_values_skip_days_without_a_denominator() -> None:
    assert store_day_value(KPIS["cc_no_show_rate"], {}) is None
    assert store_day_value(KPIS["revenue"], {}) == 0.0
    assert (
        store_day_value(KPIS["average_basket"], {("sale", "total"): 900, ("sale", "n"): 2}) == 450
    )


def test_periods_widen_to_whole_utc_days() -> None:
    p = period_of(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert (p.first, p.end, p.days) == (date(2026, 11, 1), date(2026, 12, 1), 30)
    paris = timezone(timedelta(hours=1))
    p = period_of(datetime(2026, 11, 3, 0, 30, tzinfo=paris), datetime(2026, 11, 3, 12, tzinfo=UTC))
    assert (p.first, p.end) == (date(2026, 11, 2), date(2026, 11, 4))
    same = datetime(2026, 11, 3, tzinfo=UTC)
    assert period_of(same, same).days == 1


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), "from"),
        (datetime(2026, 11, 1), datetime(2026, 12, 1, tzinfo=UTC), "from"),
        (datetime(2000, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), "to"),
    ],
)
def test_bad_periods_name_the_field(start: datetime, end: datetime, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        period_of(start, end)
    assert caught.value.field == field


def test_periods_read_whole_months_monthly_and_edges_daily() -> None:
    p = Period(date(2026, 10, 15), date(2027, 1, 10))
    assert grains(p, None) == [
        (MonthlyRollupRow, Period(date(2026, 11, 1), date(2027, 1, 1))),
        (DailyRollupRow, Period(date(2026, 10, 15), date(2026, 11, 1))),
        (DailyRollupRow, Period(date(2027, 1, 1), date(2027, 1, 10))),
    ]
    assert grains(p, "day") == [(DailyRollupRow, p)]
    inside = Period(date(2026, 11, 3), date(2026, 11, 20))
    assert grains(inside, "store") == [(DailyRollupRow, inside)]
    nov = Period(date(2026, 11, 1), date(2026, 12, 1))
    assert grains(nov, "channel") == [(MonthlyRollupRow, nov)]


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=366))
def test_spend_spreads_whole_minor_units_that_sum_to_the_spend(total: int, days: int) -> None:
    parts = spread(total, days)
    assert len(parts) == days
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1


def test_welch_interval_on_a_hand_computed_case() -> None:
    # means 25 and 15; se = sqrt(166.67/4 + 33.33/4) = sqrt(50); df = 54/13; t = 2.7364
    test = welch([10, 20, 30, 40], [10, 10, 20, 20])
    assert test.difference == 10
    assert test.degrees_of_freedom == pytest.approx(54 / 13)
    assert test.interval is not None
    assert test.interval.low == pytest.approx(-9.3490, abs=1e-4)
    assert test.interval.high == pytest.approx(29.3490, abs=1e-4)
    assert (test.n_pilot, test.n_control) == (4, 4)


def test_welch_needs_two_store_days_a_side_for_an_interval() -> None:
    assert welch([5], [1, 2]).interval is None
    flat = welch([3, 3], [1, 1])
    assert flat.interval is not None
    assert (flat.interval.low, flat.interval.high) == (2, 2)
    with pytest.raises(InvalidInput):
        welch([], [1, 2])


def test_identity_flags_count_each_pair_held() -> None:
    assert counted({"email", "loyalty_card", "device_id"}) == {
        "email",
        "loyalty_card",
        "email+loyalty_card",
    }
    assert counted({"phone", "till"}) == {"phone", "till", "phone+till"}
    assert counted({"cookie"}) == {"cookie"}
