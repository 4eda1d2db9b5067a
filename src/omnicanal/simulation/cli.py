"""`omnicanal simulate`: a simulated omnichannel retailer, days of it in seconds."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from omnicanal.simulation.model import DEFAULT_MIX, SimulationParams, parse_mix

console = Console()
DEFAULT_MIX_TEXT = ",".join(f"{k}={v:g}" for k, v in DEFAULT_MIX.items())


def register(app: typer.Typer) -> None:
    """Adds the ``simulate`` command to the CLI."""
    app.command("simulate")(simulate)


def simulate(
    stores: int = typer.Option(24, help="Stores with activity (the first ones by store code)."),
    customers: int = typer.Option(1000, help="Customers of the retailer."),
    days: int = typer.Option(1, help="Days of shopping visits to simulate."),
    seed: int = typer.Option(42, help="Same seed, same operations, same counts."),
    channel_mix: str = typer.Option(DEFAULT_MIX_TEXT, help="Share of visits per channel."),
    click_collect_share: float = typer.Option(
        0.3, help="Share of web, app and call-centre orders collected in store."
    ),
    visits_per_customer: float = typer.Option(
        0.1, help="Shopping visits per customer per day, all channels together."
    ),
    skus: int = typer.Option(600, help="Catalogue size when the database is empty."),
    start: str | None = typer.Option(
        None, help="First simulated day (ISO date, e.g. 2026-11-23); default: ends today."
    ),
    database_url: str | None = typer.Option(None, help="Default: the settings' database."),
    live: bool = typer.Option(False, "--live", help="Keep generating activity in real time."),
    rate: float = typer.Option(0.5, help="--live: visits per second."),
) -> None:
    """Simulate an omnichannel retailer through the real use cases: customers on several
    devices, carts that cross them, orders of every channel and method, store visits, pickups
    and no-shows, returns in store, tickets. Prints what it did and the KPIs."""
    from omnicanal.settings import get_settings
    from omnicanal.storage.migrate import upgrade

    settings = get_settings()
    url = database_url or settings.database_url
    try:
        params = SimulationParams(
            stores=stores,
            customers=customers,
            days=days,
            seed=seed,
            channel_mix=parse_mix(channel_mix),
            click_collect_share=click_collect_share,
            visits_per_customer=visits_per_customer,
            skus=skus,
            start=_start(start),
        ).check()
        if live and rate <= 0:
            raise ValueError("--rate must be above 0.")
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    upgrade(url)
    if live:
        _live(url, params, rate, settings.db_pool_size)
        return
    _simulated(url, params, settings.db_pool_size)


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    from omnicanal.simulation.model import PARIS

    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--start {text!r} is not an ISO date such as 2026-11-23.") from None
    if day.tzinfo is None:
        day = day.replace(tzinfo=PARIS)
    return day


def _simulated(url: str, params: SimulationParams, pool_size: int) -> None:
    from omnicanal.shared.clock import FrozenClock
    from omnicanal.simulation.engine import Simulation
    from omnicanal.simulation.summary import summarise
    from omnicanal.storage.database import Database

    db = Database(url, clock=FrozenClock(), pool_size=pool_size)
    try:
        simulation = Simulation(db, params)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[moment]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("setting up", total=1.0, moment="")
            span: list[datetime] = []

            def progress(now: datetime, phase: str) -> None:
                if not span:
                    span.append(now)
                first = span[0]
                total = params.days * 86400 + params.settle_days * 86400
                done = min(1.0, (now - first).total_seconds() / total)
                bar.update(task, completed=done, description=phase, moment=f"{now:%a %d %b %H:%M}")

            run = simulation.run(progress)
        summary = summarise(db, run)
    finally:
        db.dispose()
    from omnicanal.simulation.report import render

    render(console, params, run, summary)


def _live(url: str, params: SimulationParams, rate: float, pool_size: int) -> None:
    import time

    from omnicanal.simulation.live import start_live_activity
    from omnicanal.storage.database import Database

    db = Database(url, pool_size=pool_size)
    handle = start_live_activity(
        db,
        rate=rate,
        customers=params.customers,
        stores=params.stores,
        seed=params.seed,
        skus=params.skus,
        drain=True,
        channel_mix=params.channel_mix,
        click_collect_share=params.click_collect_share,
    )
    console.print(f"live activity at {rate:g} visit(s)/s on {url}; Ctrl-C to stop")
    try:
        while handle.is_alive():
            time.sleep(5)
            console.print(f"{handle.visits} visits, {handle.steps} steps")
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        db.dispose()
    table = Table("what", "count", title="Live activity")
    for what, count in sorted(handle.tally.items()):
        table.add_row(what, str(count))
    console.print(table)
