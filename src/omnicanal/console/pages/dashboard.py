"""Head office: the KPI dashboard (analytics context), filtered by channel, store and period,
one KPI charted by channel, store or day as server-side SVG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import Response

from omnicanal.analytics.definitions import DASHBOARD, KPIS, Kpi
from omnicanal.analytics.model import KpiValue
from omnicanal.analytics.service import KNOWN_CHANNELS, kpi_values
from omnicanal.auth.model import Channel
from omnicanal.console.charts import Chart, Point, build
from omnicanal.console.i18n import Translator
from omnicanal.console.queries import stores
from omnicanal.console.web import OfficePage
from omnicanal.shared.errors import InvalidInput

router = APIRouter()
CHANNELS = [c.value for c in Channel if c is not Channel.ADMIN]
GROUPS = ("channel", "store", "day")
DEFAULT_DAYS = 30
MAX_DAYS_CHARTED = 400  # beyond, the line shows only the days with facts


def kpi_title(kpi: Kpi, lang: str) -> str:
    return kpi.title_fr if lang == "fr" else kpi.title_en


def value_text(value: KpiValue | None) -> str:
    """A KPI value as people read it: money with its currency, ratios as percentages."""
    if value is None:
        return "—"
    return amount_text(value.value, value.unit, value.currency)


def amount_text(amount: Decimal | None, unit: str, currency: str | None) -> str:
    if amount is None:
        return "—"
    if unit == "ratio":
        return f"{amount * 100:.1f} %"
    if unit == "money":
        return f"{amount:,.2f} {currency or ''}".replace(",", " ").strip()
    if unit == "count":
        return f"{amount:,.0f}".replace(",", " ")
    if unit == "seconds":
        return f"{amount / 60:.1f} min"
    return f"{amount:.2f}"


def day_param(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        raise InvalidInput(f"{raw!r} is not a date (YYYY-MM-DD).") from None


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


@dataclass(frozen=True)
class Tile:
    code: str
    title: str
    text: str


def _main_value(values: list[KpiValue]) -> KpiValue | None:
    """The whole-period value (money KPIs: the currency with the most behind it)."""
    if not values:
        return None
    return max(values, key=lambda v: v.denominator or v.numerator or Decimal(0))


def every_day(
    kpi: Kpi, values: list[KpiValue], first: date, end: date, currency: str | None
) -> list[KpiValue]:
    """One value per day of the period: a day without facts is 0 for a sum or a count, and
    nothing to measure (None, a gap in the line) for a ratio."""
    by_day = {v.group: v for v in values}
    days = [first + timedelta(days=i) for i in range((end - first).days)]
    empty = None if kpi.denominator else Decimal(0)
    unit = kpi.unit.value
    return [
        by_day.get(day.isoformat())
        or KpiValue(kpi.code, day.isoformat(), empty, empty, None, unit, currency)
        for day in days
    ]


def _chart(
    t: Translator, kpi: Kpi, lang: str, group_by: str, values: list[KpiValue], names: dict[str, str]
) -> Chart | None:
    if not values:
        return None
    points = [
        Point(label=names.get(v.group or "", v.group or "—"), value=v.value, text=value_text(v))
        for v in values
    ]
    title = t("dashboard.chart", kpi=kpi_title(kpi, lang), group=t(f"dashboard.by_{group_by}"))
    description = "; ".join(f"{p.label}: {p.text}" for p in points)
    return build(
        "line" if group_by == "day" else "bars",
        title,
        description,
        points,
        scale=100.0 if kpi.unit.value == "ratio" else 1.0,
    )


@router.get("/dashboard")
def dashboard(
    page: OfficePage,
    kpi: str = "revenue",
    channel: str = "",
    store: str = "",
    start: str = "",
    end: str = "",
    group_by: str = "channel",
) -> Response:
    today = page.db.clock.now().astimezone(UTC).date()
    first = day_param(start, today - timedelta(days=DEFAULT_DAYS - 1))
    last = day_param(end, today + timedelta(days=1))
    if kpi not in KPIS:
        kpi = "revenue"
    if group_by not in GROUPS:
        group_by = "channel"
    chosen_channel = channel if channel in KNOWN_CHANNELS else None
    lang = page.lang
    with page.db.read() as session:
        store_rows = stores(session)
        store_id = store if any(s.id == store for s in store_rows) else None
        names = {s.id: s.name for s in store_rows}

        def values(code: str, by: str | None = None) -> list[KpiValue]:
            return kpi_values(
                session,
                kpi=code,
                start=midnight(first),
                end=midnight(last),
                channel=chosen_channel,
                store_id=store_id,
                group_by=by,
            )

        tiles = [
            Tile(code, kpi_title(KPIS[code], lang), value_text(_main_value(values(code))))
            for code in DASHBOARD
        ]
        grouped = values(kpi, group_by)
    definition = KPIS[kpi]
    currencies = sorted({v.currency for v in grouped if v.currency})
    if len(currencies) > 1:  # one currency per chart: the first (the table lists them all)
        charted = [v for v in grouped if v.currency == currencies[0]]
    else:
        charted = grouped
    if group_by == "day" and charted and (last - first).days <= MAX_DAYS_CHARTED:
        charted = every_day(definition, charted, first, last, currencies[0] if currencies else None)
    chart = _chart(page.t, definition, lang, group_by, charted, names)
    rows = [(names.get(v.group or "", v.group or "—"), v, value_text(v)) for v in grouped]
    return page.render(
        "office/dashboard.html",
        tiles=tiles,
        kpis=[(code, kpi_title(k, lang)) for code, k in KPIS.items()],
        kpi=definition,
        kpi_name=kpi_title(definition, lang),
        chart=chart,
        rows=rows,
        channels=CHANNELS,
        stores=store_rows,
        chosen={
            "kpi": kpi,
            "channel": chosen_channel or "",
            "store": store_id or "",
            "start": first.isoformat(),
            "end": last.isoformat(),
            "group_by": group_by,
        },
        groups=GROUPS,
    )
