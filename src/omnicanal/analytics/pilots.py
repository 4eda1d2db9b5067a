"""Pilot stores: a named feature turned on for some stores, compared with control stores.

``is_enabled(session, feature, store_id)`` is how other code asks whether a feature is on at a
store. ``compare`` measures a KPI per store-day on both sides and gives the difference of means
with its Welch 95 % confidence interval (see docs/kpis.md).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnicanal.analytics import model
from omnicanal.analytics.definitions import Kpi, Unit
from omnicanal.analytics.service import _channels, check_stores, get_kpi, rollup_filters
from omnicanal.analytics.tables import DailyRollupRow, PilotRow, PilotStoreRow
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import exponent
from omnicanal.storage.uow import UnitOfWork

FEATURE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")
PILOT, CONTROL = "pilot", "control"
CONFIDENCE = 0.95
METHOD = (
    "Each store-day of the period with a value is one observation (for totals such as revenue, "
    "a store-day without activity counts as 0). difference = mean(pilot store-days) - "
    "mean(control store-days); its 95 % confidence interval is Welch's t interval (unequal "
    "variances, Welch-Satterthwaite degrees of freedom). The pooled values are the KPI over "
    "all the stores of each side, as GET /v1/kpis gives it."
)


@dataclass(frozen=True, slots=True)
class Pilot:
    id: str
    name: str
    feature: str
    description: str
    starts_at: datetime
    ends_at: datetime | None
    pilot_stores: tuple[str, ...]
    control_stores: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Side:
    stores: tuple[str, ...]
    store_days: int
    mean: Decimal | None  # mean of the per-store-day values
    value: Decimal | None  # pooled: the KPI over all the stores of this side


@dataclass(frozen=True, slots=True)
class PilotComparison:
    pilot_id: str
    feature: str
    kpi: str
    unit: str
    currency: str | None
    first_day: date
    end_day: date  # exclusive
    pilot: Side
    control: Side
    difference: Decimal | None  # mean(pilot) - mean(control)
    ci_low: Decimal | None
    ci_high: Decimal | None
    confidence: float
    degrees_of_freedom: float | None
    method: str


def _pilot(session: Session, row: PilotRow) -> Pilot:
    stores = session.execute(
        select(PilotStoreRow.store_id, PilotStoreRow.role)
        .where(PilotStoreRow.pilot_id == row.id)
        .order_by(PilotStoreRow.store_id)
    ).all()
    return Pilot(
        id=row.id,
        name=row.name,
        feature=row.feature,
        description=row.description,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        pilot_stores=tuple(s for s, role in stores if role == PILOT),
        control_stores=tuple(s for s, role in stores if role == CONTROL),
        created_at=row.created_at,
    )


def create_pilot(
    uow: UnitOfWork,
    *,
    name: str,
    feature: str,
    pilot_stores: Sequence[str],
    control_stores: Sequence[str],
    starts_at: datetime,
    ends_at: datetime | None = None,
    description: str = "",
) -> Pilot:
    if not name.strip():
        raise InvalidInput("A pilot needs a name.", field="name")
    if not FEATURE.match(feature):
        raise InvalidInput(
            f"{feature!r} is not a feature name: lowercase letters, digits, '.', '_' or '-', "
            "at most 80.",
            field="feature",
        )
    starts_at = model.utc(starts_at, field="starts_at")
    if ends_at is not None:
        ends_at = model.utc(ends_at, field="ends_at")
        if ends_at <= starts_at:
            raise InvalidInput("A pilot ends after it starts.", field="ends_at")
    if not pilot_stores:
        raise InvalidInput("A pilot needs at least one pilot store.", field="pilot_stores")
    if not control_stores:
        raise InvalidInput("A pilot needs at least one control store.", field="control_stores")
    both = sorted(set(pilot_stores) & set(control_stores))
    if both:
        raise InvalidInput(
            f"A store is either pilot or control, not both: {', '.join(both)}.",
            field="control_stores",
            store_ids=both,
        )
    check_stores(uow.session, pilot_stores, field="pilot_stores")
    check_stores(uow.session, control_stores, field="control_stores")
    row = PilotRow(
        id=new_id("plt"),
        name=name.strip(),
        feature=feature,
        description=description,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=uow.now(),
    )
    uow.session.add(row)
    uow.session.flush()
    uow.session.add_all(
        [PilotStoreRow(pilot_id=row.id, store_id=s, role=PILOT) for s in sorted(set(pilot_stores))]
        + [
            PilotStoreRow(pilot_id=row.id, store_id=s, role=CONTROL)
            for s in sorted(set(control_stores))
        ]
    )
    uow.session.flush()
    return _pilot(uow.session, row)


def get_pilot(session: Session, pilot_id: str) -> Pilot:
    row = session.get(PilotRow, pilot_id)
    if row is None:
        raise NotFound(f"No pilot {pilot_id}; GET /v1/pilots lists them.", pilot_id=pilot_id)
    return _pilot(session, row)


def list_pilots(session: Session, *, feature: str | None = None) -> list[Pilot]:
    stmt = select(PilotRow).order_by(PilotRow.id)
    if feature is not None:
        stmt = stmt.where(PilotRow.feature == feature)
    return [_pilot(session, row) for row in session.scalars(stmt)]


def is_enabled(
    session: Session, feature: str, store_id: str | None, *, at: datetime | None = None
) -> bool:
    """Is ``feature`` on at ``store_id`` now (or at ``at``)? On while a pilot of that feature
    lists the store as a pilot store and has started and not ended."""
    if store_id is None:
        return False
    moment = at or datetime.now(UTC)
    found = session.scalar(
        select(func.count())
        .select_from(PilotRow)
        .join(PilotStoreRow, PilotStoreRow.pilot_id == PilotRow.id)
        .where(
            PilotRow.feature == feature,
            PilotStoreRow.store_id == store_id,
            PilotStoreRow.role == PILOT,
            PilotRow.starts_at <= moment,
            (PilotRow.ends_at.is_(None)) | (PilotRow.ends_at > moment),
        )
    )
    return bool(found)


# --- comparison -----------------------------------------------------------------------------


def _to_unit(kpi: Kpi, value: float | None, currency: str | None) -> Decimal | None:
    """A store-day statistic (rollup units) as the KPI's unit: money in major units."""
    if value is None or not math.isfinite(value):
        return None
    raw = Decimal(repr(value))
    if kpi.unit is Unit.MONEY and currency:
        raw = raw.scaleb(-exponent(currency))
        return raw.quantize(Decimal("0.0001"))
    if kpi.unit is Unit.RATIO:
        return raw.quantize(model.RATIO_PLACES)
    return raw.quantize(Decimal("0.0001"))


def _window(pilot: Pilot, start: datetime, end: datetime) -> model.Period:
    asked = model.period_of(start, end)
    first = max(asked.first, pilot.starts_at.date())
    end_day = asked.end
    if pilot.ends_at is not None:
        ends = pilot.ends_at
        end_day = min(end_day, ends.date() if ends.time() == time(0) else model.next_day(ends))
    if end_day <= first:
        raise InvalidInput(
            f"The period does not overlap the pilot (from {pilot.starts_at.isoformat()}).",
            field="from",
        )
    return model.Period(first, end_day)


def compare(
    session: Session, *, pilot_id: str, kpi: str, start: datetime, end: datetime
) -> PilotComparison:
    definition = get_kpi(kpi)
    pilot = get_pilot(session, pilot_id)
    period = _window(pilot, start, end)
    stores = (*pilot.pilot_stores, *pilot.control_stores)
    channels = _channels(definition, None)
    d = DailyRollupRow
    rows = session.execute(
        select(d.store_id, d.day, d.metric, d.currency, func.sum(d.n), func.sum(d.total))
        .where(*rollup_filters(definition, period, channels, stores))
        .group_by(d.store_id, d.day, d.metric, d.currency)
    ).all()
    money = definition.unit is Unit.MONEY
    currencies = sorted({r[3] for r in rows if r[3]}) if money else []
    if len(currencies) > 1:
        raise InvalidInput(
            f"These stores sell in {', '.join(currencies)}; compare one currency at a time.",
            field="kpi",
        )
    currency = currencies[0] if currencies else None
    cells: dict[tuple[str, date], dict[tuple[str, str], int]] = defaultdict(
        lambda: defaultdict(int)
    )
    for store, day, metric, _cur, n, total in rows:
        cells[(store, day)][(metric, "n")] += int(n or 0)
        cells[(store, day)][(metric, "total")] += int(total or 0)
    days = period.each()

    def side(store_ids: tuple[str, ...]) -> tuple[list[float], Side]:
        values: list[float] = []
        pooled: dict[tuple[str, str], int] = defaultdict(int)
        for store in store_ids:
            for day in days:
                cell = cells.get((store, day))
                if cell is None and definition.denominator:
                    continue
                sums = cell or {}
                for key, amount in sums.items():
                    pooled[key] += amount
                value = model.store_day_value(definition, sums)
                if value is not None:
                    values.append(value)
        whole = model.evaluate(definition, None, pooled, currency).value if values else None
        mean = math.fsum(values) / len(values) if values else None
        return values, Side(store_ids, len(values), _to_unit(definition, mean, currency), whole)

    pilot_values, pilot_side = side(pilot.pilot_stores)
    control_values, control_side = side(pilot.control_stores)
    test = model.welch(pilot_values, control_values, confidence=CONFIDENCE)
    interval = test.interval
    return PilotComparison(
        pilot_id=pilot.id,
        feature=pilot.feature,
        kpi=definition.code,
        unit=definition.unit.value,
        currency=currency,
        first_day=period.first,
        end_day=period.end,
        pilot=pilot_side,
        control=control_side,
        difference=_to_unit(definition, test.difference, currency),
        ci_low=_to_unit(definition, interval.low, currency) if interval else None,
        ci_high=_to_unit(definition, interval.high, currency) if interval else None,
        confidence=CONFIDENCE,
        degrees_of_freedom=test.degrees_of_freedom,
        method=METHOD,
    )
