"""What a run left in the database, counted from the tables (not from the simulation's own
tally): orders per channel and method, revenue, pickups, returns, tickets, events; and the
KPIs of the analytics context when it is installed."""

from __future__ import annotations

import importlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from omnicanal.customers.tables import CustomerMergeRow, CustomerProfileRow
from omnicanal.events.tables import OutboxEventRow
from omnicanal.locations.tables import LocationRow
from omnicanal.loyalty.tables import LoyaltyPurchaseRow
from omnicanal.orders.tables import FulfilmentGroupRow, OrderRow
from omnicanal.returns.tables import ReturnRow
from omnicanal.service_desk.tables import TicketRow
from omnicanal.simulation.engine import Run
from omnicanal.storage.database import Database

PICKUP_METHODS = ("click_and_collect", "reserve_and_try", "curbside")
NOT_SOLD = ("cancelled", "no_show")


@dataclass
class Summary:
    orders: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, method)
    revenue_minor: dict[str, int] = field(default_factory=dict)  # per channel
    till_sales: dict[str, int] = field(default_factory=dict)  # identified / anonymous
    pickups: dict[str, int] = field(default_factory=dict)  # final status of pickup groups
    returns: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)
    csat_average: float | None = None
    customers: dict[str, int] = field(default_factory=dict)
    events: int = 0
    events_per_second: float = 0.0
    wall_seconds: float = 0.0
    kpis: list[tuple[str, str]] = field(default_factory=list)  # (name, value as text)

    def counts(self) -> dict[str, int]:
        """Every count, flat: two runs of one seed give the same dictionary."""
        flat: dict[str, int] = {f"orders {c} {m}": n for (c, m), n in self.orders.items()}
        flat.update({f"revenue {c}": n for c, n in self.revenue_minor.items()})
        for name, part in (
            ("till", self.till_sales),
            ("pickups", self.pickups),
            ("returns", self.returns),
            ("tickets", self.tickets),
            ("customers", self.customers),
        ):
            flat.update({f"{name} {k}": v for k, v in part.items()})
        flat["events"] = self.events
        return dict(sorted(flat.items()))


def summarise(db: Database, run: Run) -> Summary:
    summary = Summary()
    window = (run.start, run.end)
    with db.read() as session:
        exchanges = select(ReturnRow.exchange_order_id).where(
            ReturnRow.exchange_order_id.is_not(None)
        )
        in_window = and_(
            OrderRow.created_at >= window[0],
            OrderRow.created_at <= window[1],
            OrderRow.id.not_in(exchanges),
        )
        _orders(session, summary, in_window)
        _till(session, summary, window)
        _pickups(session, summary, in_window)
        _returns(session, summary, window)
        _tickets(session, summary, window)
        _customers(session, summary, window)
        summary.events = int(
            session.scalar(select(func.count()).where(OutboxEventRow.seq > run.first_event_seq))
            or 0
        )
    summary.kpis = analytics_kpis(db, run.start, run.end)
    summary.wall_seconds = run.wall_seconds
    summary.events_per_second = summary.events / run.wall_seconds if run.wall_seconds else 0.0
    return summary


def _orders(session: Session, summary: Summary, in_window: Any) -> None:
    rows = session.execute(
        select(OrderRow.channel, FulfilmentGroupRow.method, func.count(func.distinct(OrderRow.id)))
        .join(FulfilmentGroupRow, FulfilmentGroupRow.order_id == OrderRow.id)
        .where(in_window)
        .group_by(OrderRow.channel, FulfilmentGroupRow.method)
    ).all()
    summary.orders = {(c, m): int(n) for c, m, n in sorted(rows)}
    revenue: dict[str, int] = defaultdict(int)
    for channel, total in session.execute(
        select(OrderRow.channel, func.sum(OrderRow.total_minor))
        .where(in_window, OrderRow.status.not_in(NOT_SOLD))
        .group_by(OrderRow.channel)
    ):
        revenue[channel] += int(total or 0)
    summary.revenue_minor = dict(revenue)


def _till(session: Session, summary: Summary, window: tuple[datetime, datetime]) -> None:
    p = LoyaltyPurchaseRow
    rows = session.execute(
        select(p.identified, func.count(), func.sum(p.amount_minor))
        .where(p.ref_type == "till_sale", p.recorded_at >= window[0], p.recorded_at <= window[1])
        .group_by(p.identified)
    ).all()
    total = 0
    for identified, count, amount in rows:
        summary.till_sales["identified" if identified else "anonymous"] = int(count)
        total += int(amount or 0)
    if rows:
        summary.revenue_minor["pos"] = summary.revenue_minor.get("pos", 0) + total


def _pickups(session: Session, summary: Summary, in_window: Any) -> None:
    g = FulfilmentGroupRow
    rows = session.execute(
        select(g.status, func.count())
        .join(OrderRow, OrderRow.id == g.order_id)
        .where(in_window, g.method.in_(PICKUP_METHODS))
        .group_by(g.status)
    ).all()
    summary.pickups = {status: int(n) for status, n in sorted(rows)}


def _returns(session: Session, summary: Summary, window: tuple[datetime, datetime]) -> None:
    r = ReturnRow
    rows = session.execute(
        select(r.outcome, r.status, r.order_channel, LocationRow.kind, func.count())
        .join(LocationRow, LocationRow.id == r.location_id)
        .where(r.created_at >= window[0], r.created_at <= window[1])
        .group_by(r.outcome, r.status, r.order_channel, LocationRow.kind)
    ).all()
    out: dict[str, int] = defaultdict(int)
    for outcome, status, order_channel, kind, n in rows:
        out[outcome] += int(n)
        out[status] += int(n)
        if kind == "store" and order_channel != "pos":
            out["online order in store"] += int(n)
    summary.returns = dict(sorted(out.items()))


def _tickets(session: Session, summary: Summary, window: tuple[datetime, datetime]) -> None:
    t = TicketRow
    rows = session.execute(
        select(t.status, func.count())
        .where(t.opened_at >= window[0], t.opened_at <= window[1])
        .group_by(t.status)
    ).all()
    summary.tickets = {status: int(n) for status, n in sorted(rows)}
    rated = session.execute(
        select(func.count(t.csat_score), func.avg(t.csat_score)).where(
            t.opened_at >= window[0], t.opened_at <= window[1], t.csat_score.is_not(None)
        )
    ).one()
    summary.tickets["rated"] = int(rated[0] or 0)
    summary.csat_average = float(rated[1]) if rated[1] is not None else None


def _customers(session: Session, summary: Summary, window: tuple[datetime, datetime]) -> None:
    c = CustomerProfileRow
    summary.customers["profiles created"] = int(
        session.scalar(
            select(func.count()).where(c.created_at >= window[0], c.created_at <= window[1])
        )
        or 0
    )
    m = CustomerMergeRow
    summary.customers["merges"] = int(
        session.scalar(select(func.count()).where(m.at >= window[0], m.at <= window[1])) or 0
    )


def analytics_kpis(db: Database, start: datetime, end: datetime) -> list[tuple[str, str]]:
    """The KPIs of ``omnicanal.analytics`` over the run (its agreed interface: ``KPIS`` and
    ``kpi_values``), each in its own read session; none when that context is not there."""
    try:
        definitions = importlib.import_module("omnicanal.analytics.definitions")
        service = importlib.import_module("omnicanal.analytics.service")
    except ImportError:
        return []
    kpis = getattr(definitions, "KPIS", None)
    kpi_values = getattr(service, "kpi_values", None)
    if not kpis or kpi_values is None:
        return []
    out: list[tuple[str, str]] = []
    for code, definition in _items(kpis):
        title = str(getattr(definition, "title_en", None) or code)
        try:
            with db.read() as session:
                values = kpi_values(session, kpi=code, start=start, end=end)
        except Exception as exc:  # one KPI the data cannot answer must not hide the others
            out.append((title, f"n/a ({type(exc).__name__})"))
            continue
        out.append((title, _format(values)))
    return out


def _items(kpis: Any) -> list[tuple[str, Any]]:
    if isinstance(kpis, dict):
        return [(str(k), v) for k, v in kpis.items()]
    return [(str(getattr(k, "code", k)), k) for k in kpis]


def _format(values: Any) -> str:
    overall = [v for v in list(values or []) if getattr(v, "group", None) is None] or list(
        values or []
    )
    if not overall or getattr(overall[0], "value", None) is None:
        return "no data"
    value = overall[0].value
    unit = str(getattr(overall[0], "unit", ""))
    if unit == "ratio":
        return f"{float(value):.1%}"
    if unit == "money":
        return f"{value} {getattr(overall[0], 'currency', None) or ''}".strip()
    if unit == "seconds":
        return f"{float(value) / 3600:.1f} h"
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")
