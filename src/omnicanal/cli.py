"""The ``omnicanal`` command line."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from omnicanal.console import cli as users_cli
from omnicanal.settings import get_settings
from omnicanal.simulation.cli import register as register_simulate
from omnicanal.storage.database import Database

app = typer.Typer(help="omnicanal: unified commerce for every channel.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(users_cli.app, name="users")
register_simulate(app)
console = Console()


def _database() -> Database:

    settings = get_settings()
    return Database(settings.database_url, pool_size=settings.db_pool_size)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from omnicanal.storage.migrate import upgrade

    upgrade(get_settings().database_url)
    console.print("[green]database is up to date[/green]")


@db_app.command("revision")
def db_revision(message: str = typer.Option(..., "-m", help="What the migration does.")) -> None:
    """(developers) Autogenerate a migration from the tables."""
    from omnicanal.storage.migrate import revision

    revision(get_settings().database_url, message)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., help="Who uses the key, e.g. 'Web shop'."),
    channel: str = typer.Option(..., help="web, app, pos, callcenter, marketplace or admin."),
    scope: list[str] = typer.Option(None, help="Repeat for each scope; default: the channel's."),
    store: str | None = typer.Option(None, help="Bind the key to one store (location id)."),
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from omnicanal.auth.service import create_key

    db = _database()
    with db.uow() as uow:
        created = create_key(uow, name=name, channel=channel, scopes=scope or None, store_id=store)
    console.print(f"key id: {created.principal.key_id}")
    console.print(f"scopes: {', '.join(sorted(created.principal.scopes))}")
    console.print("secret (shown once, store it now):")
    print(created.secret)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    from sqlalchemy import select

    from omnicanal.auth.tables import ApiKeyRow

    db = _database()
    table = Table("id", "name", "prefix", "channel", "store", "revoked")
    with db.read() as session:
        for row in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)):
            table.add_row(
                row.id,
                row.name,
                row.prefix + "…",
                row.channel,
                row.store_id or "",
                "yes" if row.revoked_at else "",
            )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key."""
    from omnicanal.auth.service import revoke_key

    with _database().uow() as uow:
        revoke_key(uow, key_id)
    console.print(f"revoked {key_id}")


@app.command("import")
def import_file(
    kind: str = typer.Argument(..., help="products, prices, locations or stock."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
) -> None:
    """Import a CSV file: every row is checked first; one bad row imports nothing."""
    from omnicanal.imports import csv_kind, decode_csv, run_import
    from omnicanal.shared.errors import DomainError
    from omnicanal.shared.tabular import ImportRejected

    try:
        found = csv_kind(kind)
        text = decode_csv(file.read_bytes())
        db = _database()
        try:
            with db.uow() as uow:
                report = run_import(uow, found, text)
        finally:
            db.dispose()
    except ImportRejected as rejected:
        table = Table("line", "field", "message", title=f"{file.name}: nothing was imported")
        for error in rejected.report.errors:
            table.add_row(str(error.line), error.field or "", error.message)
        console.print(table)
        console.print(
            f"[red]{len(rejected.report.errors)} invalid row(s); fix them and retry.[/red]"
        )
        raise typer.Exit(1) from None
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"[green]{report.kind}: {report.rows} row(s), {report.created} created, "
        f"{report.updated} updated[/green]"
    )


@app.command("export")
def export_file(
    kind: str = typer.Argument(..., help="products, prices, locations or stock."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Default: standard output."),
) -> None:
    """Export every row of a kind as CSV (it imports back unchanged)."""
    import sys

    from omnicanal.imports import csv_kind
    from omnicanal.shared.errors import DomainError
    from omnicanal.shared.tabular import write_csv

    try:
        found = csv_kind(kind)
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    db = _database()
    try:
        with db.read() as session:
            header, rows = found.exporter(session)
            if output is None:
                for chunk in write_csv(header, rows):
                    sys.stdout.write(chunk)
                sys.stdout.flush()
            else:
                with output.open("w", encoding="utf-8", newline="") as handle:
                    for chunk in write_csv(header, rows):
                        handle.write(chunk)
    finally:
        db.dispose()
    if output is not None:
        console.print(f"[green]wrote {output}[/green]")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(int(os.environ.get("PORT", "8000"))),
    workers: int = typer.Option(1, help="API worker processes (PostgreSQL for more than one)."),
    startup_timeout: float = typer.Option(
        60.0, help="Seconds a worker process may take to start before it is replaced."
    ),
) -> None:
    """Apply migrations and serve the API (and the console)."""
    import uvicorn

    from omnicanal.storage.migrate import upgrade

    upgrade(get_settings().database_url)
    uvicorn.run(
        "omnicanal.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_worker_healthcheck=int(startup_timeout),
    )


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(int(os.environ.get("PORT", "8000"))),
    skus: int = typer.Option(2400, help="How many SKUs the demo catalogue holds."),
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Serve once loaded."),
    live: bool = typer.Option(
        True, "--live/--no-live", help="Simulated customers keep shopping while it serves."
    ),
) -> None:
    """Load the demo retailer (once) and serve it: 24 stores, 2 warehouses, 2,400 SKUs."""
    import time

    from omnicanal.demo.keys import DEMO_KEYS, create_demo_keys
    from omnicanal.demo.seed import is_seeded, seed_retailer
    from omnicanal.storage.migrate import upgrade

    # the demo has no mail server: messages go to the log unless one is configured
    os.environ.setdefault("OMNICANAL_NOTIFICATIONS_EMAIL_PROVIDER", "log")
    get_settings.cache_clear()
    settings = get_settings()
    started = time.perf_counter()
    upgrade(settings.database_url)
    db = _database()
    if is_seeded(db):
        console.print(f"demo retailer already loaded in {settings.database_url}")
    else:
        report = seed_retailer(db, skus=skus)
        create_demo_keys(db)
        console.print(
            f"loaded {report.locations} locations, {report.products} products, "
            f"{report.variants} SKUs, {report.levels} stock levels ({report.units} units) "
            f"in {time.perf_counter() - started:.1f}s"
        )
    from omnicanal.console.demo import ensure_demo_users

    demo_users = ensure_demo_users(db)
    db.dispose()
    table = Table("channel", "key", "for", title="Demo API keys (Authorization: Bearer …)")
    for secret, name, channel, _bound in DEMO_KEYS:
        table.add_row(channel, secret, name)
    console.print(table)
    base = f"http://{host}:{port}"
    # the Paris Rivoli associate first: the store of the demo till key
    demo_users.sort(key=lambda u: (u.role != "head_office", "rivoli" not in u.email, u.email))
    console.print(f"Console: {base}/console/ — demo users (password: omnicanal-demo):")
    for user in demo_users[:3]:
        console.print(
            f"  {user.role:<12} {user.email}  ({user.store or 'all stores'})", soft_wrap=True
        )
    if len(demo_users) > 3:
        console.print(
            "  associate    <store code>@demo.omnicanal.local, one per store", soft_wrap=True
        )
    console.print(
        f"API docs: {base}/docs   try: curl -H 'Authorization: Bearer ock_demo_web' "
        f"'{base}/v1/availability?sku=RUN-00000-BLA-42&lat=48.8566&lon=2.3522&radius_km=10'"
    )
    if serve_after:
        import uvicorn

        activity = None
        if live:
            from omnicanal.simulation.live import start_live_activity

            live_db = _database()
            activity = start_live_activity(live_db, settings, rate=0.5)
            console.print(
                "live activity: simulated customers shop on every channel (about one visit "
                "every 2 s); watch /v1/events or the console. --no-live for a quiet demo."
            )
        try:
            uvicorn.run("omnicanal.api.app:create_app", factory=True, host=host, port=port)
        finally:
            if activity is not None:
                activity.stop()
                live_db.dispose()


customers_app = typer.Typer(help="Customer profiles.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")


@customers_app.command("scan-duplicates")
def customers_scan_duplicates(
    threshold: float = typer.Option(
        0.9, help="Match probability from which a pair is queued for review (0.5 to 1)."
    ),
) -> None:
    """Score every live profile with the probabilistic matcher and refresh the review queue
    (GET /v1/customers/duplicates). Rejected pairs stay rejected."""
    from omnicanal.customers.duplicates import check_threshold, scan_for_duplicates
    from omnicanal.shared.errors import DomainError

    db = _database()
    try:
        report = scan_for_duplicates(db, threshold=check_threshold(threshold))
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    model = "learnt from them" if report.trained else "the priors: too few to learn from"
    console.print(
        f"{report.profiles} live profiles compared on {', '.join(report.fields) or 'nothing'} "
        f"in {report.seconds:.1f}s; parameters: {model}"
    )
    console.print(
        f"[green]{report.found} pair(s) at or above {report.threshold}: {report.opened} new, "
        f"{report.rescored} rescored, {report.still_rejected} still rejected; "
        f"{report.withdrawn} withdrawn from the queue[/green]"
    )


pricing_app = typer.Typer(help="Prices: the consistency audit.", no_args_is_help=True)
app.add_typer(pricing_app, name="pricing")


@pricing_app.command("audit")
def pricing_audit(
    at: str | None = typer.Option(None, help="ISO 8601 instant with a time zone; default: now."),
    flag: bool = typer.Option(
        True, help="Emit pricing.difference.unjustified for new or changed unjustified ones."
    ),
) -> None:
    """Every SKU whose price differs between channels, stores or territories, and whether a
    justification covers each difference."""
    from datetime import datetime

    from omnicanal.pricing.audit import audit, run_audit
    from omnicanal.pricing.service import amount_text

    when = datetime.fromisoformat(at) if at else None
    if when is not None and when.tzinfo is None:
        console.print("[red]--at needs a time zone, e.g. 2026-11-23T09:00:00Z[/red]")
        raise typer.Exit(1)
    db = _database()
    try:
        when = when or db.clock.now()
        table = Table("SKU", "base", "price", "where", "source", "justified", "why")
        cursor: str | None = None
        unjustified = 0
        with db.read() as session:
            while True:
                page = audit(session, at=when, cursor=cursor, limit=200)
                for entry in page.entries:
                    for d in entry.differences:
                        unjustified += not d.justified
                        where = "+".join(
                            part for part in (d.store_id, d.territory, ",".join(d.channels)) if part
                        )
                        reason = d.override.reason if d.override and d.override.reason else None
                        table.add_row(
                            entry.sku,
                            f"{amount_text(d.base)} {d.currency}",
                            amount_text(d.price),
                            where,
                            d.source.value,
                            "yes" if d.justified else "[red]no[/red]",
                            d.problem or (reason.value if reason else ""),
                        )
                cursor = page.next_cursor
                if cursor is None:
                    break
        console.print(table)
        if flag:
            with db.uow() as uow:
                run = run_audit(uow, at=when)
            console.print(f"{run.flagged} flagged, {run.cleared} cleared")
    finally:
        db.dispose()
    console.print(f"{unjustified} unjustified difference(s) at {when.isoformat()}")
    raise typer.Exit(1 if unjustified else 0)


if __name__ == "__main__":
    app()
