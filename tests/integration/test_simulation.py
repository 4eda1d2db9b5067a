"""The simulated retailer drives the real use cases: every channel and method, pickups and
no-shows, returns in store, identified and anonymous till sales; same seed, same counts; the
stock invariants hold after it."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select

from omnicanal.events.tables import ConsumerFailureRow, OutboxEventRow
from omnicanal.inventory.tables import ReservationRow
from omnicanal.orders.tables import OrderRow
from omnicanal.simulation.engine import Simulation
from omnicanal.simulation.live import start_live_activity
from omnicanal.simulation.model import PARIS, QuotaSampler, SimulationParams, parse_mix
from omnicanal.simulation.summary import summarise
from omnicanal.storage.database import Database
from tests.conftest import truncate_all
from tests.inventory_checks import assert_ledger_equals_levels

MONDAY = datetime(2026, 11, 23, tzinfo=PARIS)
METHODS = {
    "home_delivery",
    "relay_point",
    "click_and_collect",
    "ship_from_store",
    "reserve_and_try",
    "endless_aisle",
}


def test_two_days_of_a_small_retailer_use_every_channel_and_method(db: Database) -> None:
    params = SimulationParams(
        stores=3, customers=40, days=2, seed=7, visits_per_customer=0.5, skus=300, start=MONDAY
    )
    run = Simulation(db, params).run()
    summary = summarise(db, run)

    assert run.set_up is not None
    assert run.set_up.stores == run.stores == 3
    channels = {channel for channel, _ in summary.orders}
    methods = {method for _, method in summary.orders}
    assert channels == {"web", "app", "pos", "callcenter", "marketplace"}
    assert methods >= METHODS
    # the cart followed customers across devices
    assert run.tally.get("cart crossed web->app", 0) + run.tally.get("cart crossed app->web", 0)
    # pickups: most collected, some never came (released by the no-show sweeper)
    assert summary.pickups["collected"] > summary.pickups["no_show"] > 0
    # online orders came back to a store, for a refund or another size
    assert summary.returns["online order in store"] > 0
    assert summary.returns.get("refund", 0) + summary.returns.get("exchange", 0) == (
        summary.returns["completed"] + summary.returns.get("in_review", 0)
    )
    assert summary.till_sales["identified"] > 0
    assert summary.till_sales["anonymous"] > 0
    assert sum(summary.revenue_minor.values()) > 0
    assert summary.events > 0
    assert summary.kpis  # read from omnicanal.analytics over the run
    # the books closed: stock ledger sums to the levels, nothing held past its expiry,
    # every event published and read by every consumer without a failure
    assert_ledger_equals_levels(db)
    with db.read() as s:
        stale = s.scalar(
            select(func.count()).where(
                ReservationRow.status == "active", ReservationRow.expires_at <= run.end
            )
        )
        unpublished = s.scalar(select(func.count()).where(OutboxEventRow.position.is_(None)))
        failures = s.scalar(select(func.count()).select_from(ConsumerFailureRow))
    assert stale == 0
    assert unpublished == 0
    assert failures == 0


def test_the_same_seed_gives_the_same_operations_and_counts(db: Database) -> None:
    params = SimulationParams(
        stores=3, customers=16, days=1, seed=11, visits_per_customer=0.6, skus=200, start=MONDAY
    )
    first = Simulation(db, params).run()
    first_counts = summarise(db, first).counts()
    truncate_all(db)
    second = Simulation(db, params).run()
    second_counts = summarise(db, second).counts()

    assert first.visits == second.visits > 0
    assert first.tally == second.tally
    assert first_counts == second_counts
    assert first_counts["events"] > 0


def test_it_works_on_top_of_an_existing_retailer_without_seeding_again(db: Database) -> None:
    params = SimulationParams(
        stores=2, customers=6, days=1, seed=3, visits_per_customer=0.5, skus=120, start=MONDAY
    )
    Simulation(db, params).run()
    again = Simulation(db, replace(params, start=None)).run()
    assert again.set_up is None
    assert again.start > MONDAY  # after the first run's activity, never overlapping it
    assert_ledger_equals_levels(db)


def test_live_activity_runs_in_the_background_until_stopped(db: Database) -> None:
    handle = start_live_activity(db, rate=25, customers=20, stores=2, skus=120, seed=5, drain=True)
    deadline = time.monotonic() + 20
    while handle.visits < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    handle.stop()
    assert not handle.is_alive()
    assert handle.visits >= 5
    assert handle.tally["failed steps"] == 0
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(OrderRow)) > 0
    assert_ledger_equals_levels(db)


def test_channel_mix_and_quota_draws_follow_the_shares() -> None:
    mix = parse_mix("web=45,app=25,pos=20,callcenter=5,marketplace=5")
    assert mix == {"web": 0.45, "app": 0.25, "pos": 0.2, "callcenter": 0.05, "marketplace": 0.05}
    sampler = QuotaSampler(mix)
    rng = random.Random(1)
    draws = [sampler.draw(rng) for _ in range(100)]
    assert {k: draws.count(k) for k in mix} == {
        "web": 45,
        "app": 25,
        "pos": 20,
        "callcenter": 5,
        "marketplace": 5,
    }
