"""The end-of-run summary, as Rich tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from omnicanal.shared.money import Money
from omnicanal.simulation.engine import Run
from omnicanal.simulation.model import PARIS, SimulationParams
from omnicanal.simulation.summary import Summary


def _euros(minor: int) -> str:
    return f"{Money(minor, 'EUR').amount:,.2f} €"


def render(console: Console, params: SimulationParams, run: Run, summary: Summary) -> None:
    if run.set_up is not None:
        s = run.set_up
        console.print(
            f"set up a retailer: {s.stores} stores, {s.skus} SKUs, {s.levels} stock levels "
            f"({s.units} units)"
        )
    first = run.start.astimezone(PARIS)
    console.print(
        f"{params.days} day(s) from {first:%a %d %b %Y}, {run.stores} stores, "
        f"{params.customers} customers, seed {params.seed}: {run.visits} visits; "
        f"follow-ups settled until {run.end.astimezone(PARIS):%a %d %b %H:%M}"
    )
    orders = Table("channel", "method", "orders", title="Orders per channel and method")
    for (channel, method), count in summary.orders.items():
        orders.add_row(channel, method.replace("_", " "), str(count))
    for kind, count in sorted(summary.till_sales.items()):
        orders.add_row("pos", f"till sale ({kind})", str(count))
    console.print(orders)
    money = Table("channel", "revenue", title="Revenue (orders not cancelled, and till sales)")
    for channel, minor in sorted(summary.revenue_minor.items()):
        money.add_row(channel, _euros(minor))
    money.add_row("[bold]all[/bold]", _euros(sum(summary.revenue_minor.values())))
    console.print(money)
    life = Table("what", "count", title="Pickups, returns, service, customers")
    for group, part in (
        ("pickups", summary.pickups),
        ("returns", summary.returns),
        ("tickets", summary.tickets),
        ("customers", summary.customers),
    ):
        for key, count in part.items():
            life.add_row(f"{group}: {key.replace('_', ' ')}", str(count))
    if summary.csat_average is not None:
        life.add_row("tickets: average CSAT", f"{summary.csat_average:.2f} / 5")
    console.print(life)
    if summary.kpis:
        kpis = Table("KPI", "value over the run", title="KPIs (omnicanal.analytics)")
        for name, value in summary.kpis:
            kpis.add_row(name, value)
        console.print(kpis)
    refused = {k: v for k, v in run.tally.items() if k.startswith(("refused", "lost"))}
    if refused:
        table = Table("refused by the system (no stock, rules)", "count")
        for key, count in refused.items():
            table.add_row(key, str(count))
        console.print(table)
    console.print(
        f"[bold]{summary.events} events[/bold] through the outbox and consumers in "
        f"{summary.wall_seconds:.1f}s of wall time: {summary.events_per_second:,.0f} events/s "
        "sustained"
    )
