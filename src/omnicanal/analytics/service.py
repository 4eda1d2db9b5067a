"""KPI values over the daily rollups, marketing spend, and the pilot comparison entry point.

``kpi_values`` runs one grouped ``SUM`` over ``analytics_daily`` (a primary-key range on
metric and day): its cost follows the number of days x channels x stores, never the number of
orders behind them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from omnicanal.analytics import model
from omnicanal.analytics.definitions import KPIS, Kpi, Unit
from omnicanal.analytics.model import (
    GROUP_BYS,
    KpiValue,
    Period,
    evaluate,
    month_start,
    next_month,
    period_of,
)
from omnicanal.analytics.tables import (
    NO_STORE,
    DailyRollupRow,
    MarketingSpendRow,
    MonthlyRollupRow,
)
from omnicanal.auth.model import Channel
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money
from omnicanal.storage.uow import UnitOfWork

if TYPE_CHECKING:
    from omnicanal.analytics.pilots import PilotComparison

__all__ = ["KpiValue", "compare_pilot", "kpi_values", "record_spend"]

# Sales channels, and the contact channels of service tickets (the CSAT KPIs).
KNOWN_CHANNELS = frozenset(c.value for c in Channel) | {"phone", "email", "chat", "store"}


def get_kpi(code: str, *, field: str = "kpi") -> Kpi:
    found = KPIS.get(code)
    if found is None:
        raise InvalidInput(
            f"Unknown KPI {code!r}; GET /v1/kpis lists them: {', '.join(sorted(KPIS))}.",
            field=field,
            code="unknown-kpi",
        )
    return found


def check_channel(channel: str | None, *, field: str = "channel") -> str | None:
    if channel is None:
        return None
    if channel not in KNOWN_CHANNELS:
        raise InvalidInput(
            f"Unknown channel {channel!r}; one of {', '.join(sorted(KNOWN_CHANNELS))}.",
            field=field,
        )
    return channel


def check_stores(session: Session, store_ids: Iterable[str], *, field: str = "store") -> None:
    wanted = set(store_ids)
    if not wanted:
        return
    known = set(session.scalars(select(LocationRow.id).where(LocationRow.id.in_(wanted))))
    missing = sorted(wanted - known)
    if missing:
        raise InvalidInput(
            f"Unknown store {', '.join(missing)}; GET /v1/locations lists them.",
            field=field,
            store_ids=missing,
        )


def _channels(kpi: Kpi, channel: str | None) -> tuple[str, ...] | None:
    """The channels to read: the filter, narrowed to those the KPI exists on."""
    if kpi.channels is None:
        return (channel,) if channel else None
    if channel is None:
        return kpi.channels
    return (channel,) if channel in kpi.channels else ()


Grain = type[DailyRollupRow] | type[MonthlyRollupRow]


def rollup_filters(
    kpi: Kpi,
    period: Period,
    channels: tuple[str, ...] | None,
    store_ids: Iterable[str] | None,
    grain: Grain = DailyRollupRow,
) -> list[ColumnElement[bool]]:
    when = grain.day if grain is DailyRollupRow else MonthlyRollupRow.month
    where: list[ColumnElement[bool]] = [
        grain.metric.in_(sorted(kpi.metrics)),
        when >= period.first,
        when < period.end,
    ]
    if channels is not None:
        where.append(grain.channel.in_(channels))
    if store_ids is not None:
        where.append(grain.store_id.in_(sorted(store_ids)))
    return where


def grains(period: Period, group_by: str | None) -> list[tuple[Grain, Period]]:
    """Whole months from the monthly rollups, the days at either edge from the daily ones."""
    months = Period(
        period.first if period.first.day == 1 else next_month(period.first),
        month_start(period.end),
    )
    if group_by == "day" or months.first >= months.end:
        return [(DailyRollupRow, period)]
    parts: list[tuple[Grain, Period]] = [(MonthlyRollupRow, months)]
    if period.first < months.first:
        parts.append((DailyRollupRow, Period(period.first, months.first)))
    if months.end < period.end:
        parts.append((DailyRollupRow, Period(months.end, period.end)))
    return parts


Sums = dict[str | None, dict[str, dict[tuple[str, str], int]]]


def _read_sums(
    session: Session,
    definition: Kpi,
    period: Period,
    channels: tuple[str, ...] | None,
    store_id: str | None,
    group_by: str | None,
) -> Sums:
    """group -> currency ("" for non-money KPIs) -> (metric, field) -> sum."""
    money = definition.unit is Unit.MONEY
    sums: Sums = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for grain, part in grains(period, group_by):
        group_col: Any = {"channel": grain.channel, "store": grain.store_id}.get(group_by or "")
        if group_by == "day":
            group_col = DailyRollupRow.day
        columns: list[Any] = [
            grain.metric,
            grain.currency,
            func.sum(grain.n),
            func.sum(grain.total),
        ]
        grouping: list[Any] = [grain.metric, grain.currency]
        if group_col is not None:
            columns.append(group_col)
            grouping.append(group_col)
        stores = [store_id] if store_id else None
        rows = session.execute(
            select(*columns)
            .where(*rollup_filters(definition, part, channels, stores, grain))
            .group_by(*grouping)
        ).all()
        for row in rows:
            metric, currency, n, total = row[0], row[1], int(row[2] or 0), int(row[3] or 0)
            group = _group_key(group_by, row[4]) if group_col is not None else None
            bucket = sums[group][currency if money else ""]
            bucket[(metric, "n")] += n
            bucket[(metric, "total")] += total
    return sums


def kpi_values(
    session: Session,
    *,
    kpi: str,
    start: datetime,
    end: datetime,
    channel: str | None = None,
    store_id: str | None = None,
    group_by: str | None = None,
) -> list[KpiValue]:
    """The KPI over ``start`` <= t < ``end`` (widened to whole UTC days), optionally for one
    channel and one store, as one value or one per channel, store or day. Money KPIs give one
    value per currency; a group with nothing to measure has ``value`` None."""
    definition = get_kpi(kpi)
    if group_by is not None and group_by not in GROUP_BYS:
        raise InvalidInput(
            f"group_by is one of {', '.join(GROUP_BYS)}, not {group_by!r}.", field="group_by"
        )
    period = period_of(start, end)
    check_channel(channel)
    for name, given in (("channel", channel), ("store", store_id)):
        if given is not None and name not in definition.filters:
            raise InvalidInput(
                f"{definition.code} is not measured per {name}; leave {name} out.", field=name
            )
    if store_id is not None:
        check_stores(session, [store_id])
    channels = _channels(definition, channel)
    if channels == ():
        return [evaluate(definition, None, {}, None)] if group_by is None else []
    sums = _read_sums(session, definition, period, channels, store_id, group_by)
    if group_by is None and not sums:
        return [evaluate(definition, None, {}, None)]
    money = definition.unit is Unit.MONEY
    values: list[KpiValue] = []
    for group in sorted(sums, key=lambda g: (g is not None, g or "")):
        for currency in sorted(sums[group]):
            if money and not currency:
                continue  # counts with no money behind them (none in today's definitions)
            values.append(evaluate(definition, group, sums[group][currency], currency or None))
    return values


def _group_key(group_by: str | None, raw: object) -> str | None:
    if group_by == "day":
        return raw.isoformat() if isinstance(raw, date) else str(raw)[:10]
    if group_by == "store":
        return str(raw) if raw != NO_STORE else None
    return str(raw)


# --- marketing spend ------------------------------------------------------------------------


def record_spend(
    uow: UnitOfWork,
    *,
    channel: str,
    first_day: date,
    last_day: date,
    amount: Money,
    store_id: str | None = None,
    note: str = "",
) -> MarketingSpendRow:
    """Marketing spend for one channel (and store, for local marketing) over ``first_day`` ..
    ``last_day`` inclusive, spread evenly over its days into the ``spend`` metric."""
    from omnicanal.analytics.rollup import bump

    check_channel(channel)
    if last_day < first_day:
        raise InvalidInput(
            f"The spend ends ({last_day}) before it starts ({first_day}).", field="last_day"
        )
    days = (last_day - first_day).days + 1
    if days > 366:
        raise InvalidInput(
            "A spend covers at most 366 days; record one per year.", field="last_day"
        )
    if amount.minor < 0:
        raise InvalidInput("A spend is not negative.", field="amount")
    if store_id is not None:
        check_stores(uow.session, [store_id], field="store_id")
    row = MarketingSpendRow(
        channel=channel,
        store_id=store_id or NO_STORE,
        first_day=first_day,
        last_day=last_day,
        currency=amount.currency,
        amount_minor=amount.minor,
        note=note,
        recorded_at=uow.now(),
    )
    uow.session.add(row)
    for i, part in enumerate(model.spread(amount.minor, days)):
        if part:
            bump(
                uow.session,
                "spend",
                first_day + timedelta(days=i),
                channel=channel,
                store_id=store_id or NO_STORE,
                currency=amount.currency,
                n=0,
                total=part,
            )
    uow.session.flush()
    return row


def compare_pilot(
    session: Session, *, pilot_id: str, kpi: str, start: datetime, end: datetime
) -> PilotComparison:
    """Pilot stores against control stores on ``kpi`` (see ``pilots.compare``)."""
    from omnicanal.analytics.pilots import compare

    return compare(session, pilot_id=pilot_id, kpi=kpi, start=start, end=end)
