"""Simulated time: the days' visits are drawn at each midnight, every action runs at its
simulated moment on the database's ``FrozenClock``, and the sweepers (reservation expiry,
no-shows, ticket priority) and the event dispatcher run at simulated times between actions."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import func, select

from omnicanal.consumers import all_consumers
from omnicanal.events.consumers import ConsumerPolicy, run_consumer
from omnicanal.events.publisher import publish
from omnicanal.events.tables import ConsumerCursorRow, OutboxEventRow
from omnicanal.inventory.service import sweep_expired
from omnicanal.inventory.tables import ReservationRow
from omnicanal.orders.fulfilment import sweep_no_shows
from omnicanal.orders.tables import FulfilmentGroupRow
from omnicanal.service_desk.service import reprioritise_due
from omnicanal.shared.clock import FrozenClock, as_utc
from omnicanal.simulation import journeys
from omnicanal.simulation.context import Context
from omnicanal.simulation.model import (
    PARIS,
    QuotaSampler,
    SimulationParams,
    make_population,
    method_shares,
    poisson,
    visit_time,
)
from omnicanal.simulation.world import SetUp, World, load_world, set_up_retailer
from omnicanal.storage.database import Database

SWEEP_EVERY = timedelta(minutes=15)  # the server's sweeper interval, in simulated time
DISPATCH_EVERY = timedelta(hours=1)  # consumers (timeline, RFM, loyalty, KPIs) catch up
Progress = Callable[[datetime, str], None]


@dataclass
class Run:
    """What a run did: its window of simulated time, its tally, and its cost in wall time."""

    start: datetime
    end: datetime  # last simulated moment (after the follow-ups settled)
    horizon: datetime  # end of the last day of visits
    first_event_seq: int
    visits: int = 0
    wall_seconds: float = 0.0
    set_up: SetUp | None = None
    stores: int = 0
    tally: dict[str, int] = field(default_factory=dict)


class Housekeeping:
    """What the server's background workers do, run at simulated times: the sweepers, and the
    dispatcher that publishes events and runs every consumer."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.consumers = all_consumers()
        self.policy = ConsumerPolicy(max_attempts=3)
        self.names = [c.name for c in self.consumers]
        self.rounds = 0
        self.seen = 0  # the last feed position a drain looked at
        self.next_due: datetime | None = None  # the next expiry or no-show deadline

    def _next_due(self) -> datetime | None:
        """When the next hold expires or the next ready pickup passes its no-show deadline."""
        with self.db.read() as session:
            expiry = session.scalar(
                select(func.min(ReservationRow.expires_at)).where(ReservationRow.status == "active")
            )
            deadline = session.scalar(
                select(func.min(FulfilmentGroupRow.no_show_at)).where(
                    FulfilmentGroupRow.status == "ready_for_pickup"
                )
            )
        found = [as_utc(t) for t in (expiry, deadline) if t is not None]
        return min(found) if found else None

    def sweep(self) -> None:
        self.rounds += 1
        for sweeper in (sweep_expired, sweep_no_shows):
            while True:
                with self.db.uow() as uow:
                    done = sweeper(uow)
                if not done:
                    break
        if self.rounds % 4 == 0:
            with self.db.uow() as uow:
                reprioritise_due(uow)
        self.next_due = self._next_due()

    def run(self) -> None:
        self.sweep()
        self.drain()

    def drain(self, *, every_consumer: bool = False) -> None:
        """Publish, then run the consumers that want one of the new events (the dispatcher's
        round, without the idle visits to the others: their cursors catch up when they next
        have work, or at the end with ``every_consumer``), until nothing is left."""
        for _ in range(1000):
            published = publish(self.db)
            with self.db.read() as session:
                types = set(
                    session.scalars(
                        select(OutboxEventRow.type).where(OutboxEventRow.position > self.seen)
                    )
                )
                self.seen = int(
                    session.scalar(select(func.max(OutboxEventRow.position))) or self.seen
                )
            done = 0
            for consumer in self.consumers:
                if every_consumer or any(consumer.wants(t) for t in types):
                    done += run_consumer(self.db, consumer, self.policy)
            if not published and not done:
                return
            if every_consumer and self._caught_up():
                return

    def _caught_up(self) -> bool:
        with self.db.read() as session:
            unpublished = session.scalar(
                select(OutboxEventRow.seq).where(OutboxEventRow.position.is_(None)).limit(1)
            )
            last = session.scalar(select(func.max(OutboxEventRow.position))) or 0
            slowest = session.scalar(
                select(func.min(ConsumerCursorRow.position)).where(
                    ConsumerCursorRow.consumer.in_(self.names)
                )
            )
        return unpublished is None and slowest is not None and slowest >= last


def last_event_seq(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.coalesce(func.max(OutboxEventRow.seq), 0))) or 0)


def default_start(db: Database, days: int) -> datetime:
    """Local midnight, ``days`` before today's (the run ends about now), or the midnight after
    the latest recorded event when the database already has later activity."""
    now = db.clock.now().astimezone(PARIS)
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    with db.read() as session:
        latest = session.scalar(select(func.max(OutboxEventRow.occurred_at)))
    if latest is not None:
        after = as_utc(latest).astimezone(PARIS) + timedelta(days=1)
        start = max(start, after.replace(hour=0, minute=0, second=0, microsecond=0))
    return start.astimezone(UTC)


class Simulation:
    def __init__(self, db: Database, params: SimulationParams) -> None:
        if not isinstance(db.clock, FrozenClock):
            raise TypeError("a simulation runs on a Database whose clock is a FrozenClock")
        self.db = db
        self.clock: FrozenClock = db.clock
        self.params = params.check()

    def prepare(self) -> tuple[World, SetUp | None]:
        p = self.params
        set_up = set_up_retailer(self.db, stores=p.stores, skus=p.skus, seed=p.seed)
        return load_world(self.db, stores=p.stores, seed=p.seed), set_up

    def run(self, progress: Progress | None = None) -> Run:
        p = self.params
        started = time.perf_counter()
        world, set_up = self.prepare()
        start = p.start or default_start(self.db, p.days)
        self._move_clock(start)
        people = make_population(
            random.Random(f"{p.seed}:people"), p.customers, [s.home() for s in world.stores]
        )
        ctx = Context(self.db, world, people, seed=p.seed)
        run = Run(
            start=start,
            end=start,
            horizon=start + timedelta(days=p.days),
            first_event_seq=last_event_seq(self.db),
            set_up=set_up,
            stores=len(world.stores),
        )
        arrivals = Arrivals(ctx, p)
        for day in range(p.days):
            midnight = (start.astimezone(PARIS) + timedelta(days=day)).astimezone(start.tzinfo)
            ctx.schedule(midnight, partial(arrivals.plan_day, midnight))
        keeper = Housekeeping(self.db)
        self._loop(ctx, keeper, run, progress)
        keeper.sweep()
        keeper.drain(every_consumer=True)
        run.end = self.clock.now()
        run.visits = arrivals.visits
        run.tally = dict(sorted(ctx.tally.items()))
        run.wall_seconds = time.perf_counter() - started
        return run

    def _loop(
        self, ctx: Context, keeper: Housekeeping, run: Run, progress: Progress | None
    ) -> None:
        settle_end = run.horizon + timedelta(days=self.params.settle_days)
        next_sweep = run.start + SWEEP_EVERY
        next_dispatch = run.start + DISPATCH_EVERY
        busy = False  # a step ran since the last sweep: holds may have been taken
        while ctx.pending():
            at, action, deadline = ctx.pop()
            if at > settle_end:
                break
            while next_sweep <= at:
                # a quiet night has nothing to sweep, unless a hold or a pickup falls due
                if busy or (keeper.next_due is not None and keeper.next_due <= next_sweep):
                    self._move_clock(next_sweep)
                    keeper.sweep()
                    busy = False
                if ctx.events_waiting and next_dispatch <= next_sweep:
                    self._move_clock(next_sweep)
                    ctx.events_waiting = False
                    keeper.drain()
                while next_dispatch <= next_sweep:
                    next_dispatch += DISPATCH_EVERY
                next_sweep += SWEEP_EVERY
            self._move_clock(at)
            if deadline:
                keeper.run()
            action()
            busy = True
            if ctx.consumers_due:
                ctx.consumers_due = False
                keeper.drain()
            if progress is not None:
                progress(self.clock.now(), "settling" if at >= run.horizon else "visits")

    def _move_clock(self, at: datetime) -> None:
        # forward only, but for the first move to the chosen start
        self.clock.advance(seconds=(at - self.clock.now()).total_seconds())


class Arrivals:
    """Each midnight: how many visits the day brings (Poisson), who makes them (heavy shoppers
    more often), on which channel and to what end (by quota of the given shares), and when."""

    def __init__(self, ctx: Context, params: SimulationParams) -> None:
        self.ctx = ctx
        self.params = params
        self.rng = random.Random(f"{params.seed}:arrivals")
        self.channels = QuotaSampler(params.channel_mix)
        self.methods = {
            c: QuotaSampler(method_shares(c, params.click_collect_share))
            for c in params.channel_mix
        }
        total = 0.0
        self.cumulative: list[float] = []
        for person in ctx.people:
            total += person.activity
            self.cumulative.append(total)
        self.visits = 0

    def plan_day(self, midnight: datetime) -> None:
        ctx, rng = self.ctx, self.rng
        weekday = midnight.astimezone(PARIS).weekday()
        busy = 1.25 if weekday == 5 else (0.6 if weekday == 6 else 1.0)  # Saturday, Sunday
        count = poisson(rng, len(ctx.people) * self.params.visits_per_customer * busy)
        for _ in range(count):
            channel = self.channels.draw(rng)
            if channel == "pos" and weekday == 6:
                continue  # stores are closed on Sundays
            method = self.methods[channel].draw(rng)
            person = rng.choices(ctx.people, cum_weights=self.cumulative)[0]
            at = visit_time(rng, midnight, channel)
            self.visits += 1
            visit_rng = ctx.rng_for(self.visits)
            ctx.schedule(at, partial(journeys.visit, ctx, person, visit_rng, channel, method))
