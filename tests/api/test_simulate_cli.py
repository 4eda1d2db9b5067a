"""`omnicanal simulate` sets up a retailer in an empty database, simulates it and prints the
summary; bad parameters get a message a person can act on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from omnicanal.cli import app
from omnicanal.orders.tables import OrderRow

runner = CliRunner()


def test_simulate_prints_the_summary_of_a_small_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--stores",
            "2",
            "--customers",
            "10",
            "--days",
            "1",
            "--seed",
            "4",
            "--visits-per-customer",
            "0.6",
            "--skus",
            "120",
            "--start",
            "2026-11-24",
            "--channel-mix",
            "web=0.5,app=0.2,pos=0.3",
            "--database-url",
            url,
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "set up a retailer: 2 stores, 120 SKUs" in out
    assert "Orders per channel and method" in out
    assert "Revenue" in out
    assert "events/s" in out
    assert "callcenter" not in out.split("Revenue")[0]  # not in the mix: no such orders
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            orders = conn.scalar(select(func.count()).select_from(OrderRow))
    finally:
        engine.dispose()
    assert orders


def test_simulate_explains_a_bad_channel_mix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    result = runner.invoke(
        app, ["simulate", "--channel-mix", "web=0.5,shop=0.5", "--database-url", url]
    )
    assert result.exit_code == 2
    assert "'shop=0.5' is not channel=share" in result.output
