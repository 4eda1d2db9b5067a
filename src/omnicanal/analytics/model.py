"""Pure KPI arithmetic: values from metric sums, periods as UTC days, the pilot comparison.

No I/O: the service reads the sums, this module turns them into values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from omnicanal.analytics.definitions import Kpi, Term, Unit
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import exponent

GROUP_BYS = ("channel", "store", "day")
RATIO_PLACES = Decimal("0.000001")
MEASURE_PLACES = Decimal("0.01")

# (metric, field) -> the sum over the selected rollup rows
Sums = Mapping[tuple[str, str], int]


@dataclass(frozen=True, slots=True)
class KpiValue:
    kpi: str
    group: str | None
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    unit: str
    currency: str | None


def _combine(terms: Sequence[Term], sums: Sums) -> int:
    return sum(t.coef * sums.get((t.metric, t.field), 0) for t in terms)


def _scale(kpi: Kpi, minor: int, currency: str | None) -> Decimal:
    if kpi.unit is Unit.MONEY and currency:
        return Decimal(minor).scaleb(-exponent(currency))
    return Decimal(minor)


def _round(kpi: Kpi, value: Decimal, currency: str | None) -> Decimal:
    if kpi.unit is Unit.MONEY and currency:
        return value.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_EVEN)
    if kpi.unit is Unit.COUNT:
        return value
    if kpi.unit is Unit.RATIO:
        return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)
    return value.quantize(MEASURE_PLACES, rounding=ROUND_HALF_EVEN)


def ratio_parts(kpi: Kpi, sums: Sums) -> tuple[int, int | None]:
    """The numerator and denominator in rollup units (minor units, seconds, counts)."""
    numerator = _combine(kpi.numerator, sums)
    if not kpi.denominator:
        return numerator, None
    return numerator, _combine(kpi.denominator, sums)


def evaluate(kpi: Kpi, group: str | None, sums: Sums, currency: str | None) -> KpiValue:
    """The KPI's value over ``sums``; None when its denominator is zero (nothing to measure)."""
    numerator, denominator = ratio_parts(kpi, sums)
    num = _scale(kpi, numerator, currency)
    if denominator is None:
        return KpiValue(
            kpi.code, group, _round(kpi, num, currency), num, None, kpi.unit.value, currency
        )
    den = Decimal(denominator)
    value = _round(kpi, num / den, currency) if denominator else None
    return KpiValue(kpi.code, group, value, num, den, kpi.unit.value, currency)


def store_day_value(kpi: Kpi, sums: Sums) -> float | None:
    """One store-day's value for the pilot comparison (rollup units: minor units, seconds)."""
    numerator, denominator = ratio_parts(kpi, sums)
    if denominator is None:
        return float(numerator)
    if denominator == 0:
        return None
    return numerator / denominator


# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days ``first`` ≤ day < ``end``: rollups are daily, so bounds widen to days."""

    first: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.first).days

    def each(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]


def utc(value: datetime, *, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{value.isoformat()} has no time zone; give an offset such as +00:00.", field=field
        )
    return value.astimezone(UTC)


def period_of(start: datetime, end: datetime, *, max_days: int = 3700) -> Period:
    """``start`` ≤ t < ``end`` widened to whole UTC days (``end`` at midnight stays exclusive)."""
    start = utc(start, field="from")
    end = utc(end, field="to")
    if start > end:
        raise InvalidInput(
            f"'from' ({start.isoformat()}) is after 'to' ({end.isoformat()}).", field="from"
        )
    first = start.date()
    last = end.date()
    end_day = last if end.time() == time(0) and end > start else last + timedelta(days=1)
    period = Period(first, max(end_day, first + timedelta(days=1)))
    if period.days > max_days:
        raise InvalidInput(f"A period is at most {max_days} days.", field="to")
    return period


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def next_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date() + timedelta(days=1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def spread(total_minor: int, days: int) -> list[int]:
    """``total_minor`` over ``days`` days in whole minor units: the remainder on the first days."""
    if days <= 0:
        return []
    base, rest = divmod(total_minor, days)
    return [base + (1 if i < rest else 0) for i in range(days)]


# --- pilot comparison -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Welch:
    mean_pilot: float
    mean_control: float
    difference: float
    interval: Interval | None  # None when either side has fewer than 2 store-days
    degrees_of_freedom: float | None
    n_pilot: int
    n_control: int


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _variance(values: Sequence[float], mean: float) -> float:
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def welch(pilot: Sequence[float], control: Sequence[float], *, confidence: float = 0.95) -> Welch:
    """Difference of means (pilot - control) of per-store-day values and its Welch t interval.

    Each store-day is one observation; the variances are not assumed equal, and the degrees of
    freedom follow Welch-Satterthwaite."""
    from scipy.stats import t as student

    if not pilot or not control:
        raise InvalidInput(
            "No store-day with a value on one side of the comparison; widen the period or "
            "choose a KPI these stores record.",
            field="from",
            pilot_store_days=len(pilot),
            control_store_days=len(control),
        )
    mp, mc = _mean(pilot), _mean(control)
    diff = mp - mc
    if len(pilot) < 2 or len(control) < 2:
        return Welch(mp, mc, diff, None, None, len(pilot), len(control))
    vp = _variance(pilot, mp) / len(pilot)
    vc = _variance(control, mc) / len(control)
    se = math.sqrt(vp + vc)
    if se == 0:
        return Welch(mp, mc, diff, Interval(diff, diff), None, len(pilot), len(control))
    dof = (vp + vc) ** 2 / (vp**2 / (len(pilot) - 1) + vc**2 / (len(control) - 1))
    half = float(student.ppf(0.5 + confidence / 2, dof)) * se
    return Welch(mp, mc, diff, Interval(diff - half, diff + half), dof, len(pilot), len(control))
