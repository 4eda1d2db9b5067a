"""Live activity: the simulated retailer at a gentle pace in real time, so the console and the
event feed show life (``make demo``, ``omnicanal simulate --live``).

Visits arrive as a Poisson process of ``rate`` per second; what follows a visit (preparing,
pickup, shipping, returns, tickets) comes ``time_scale`` times sooner than in real life, so a
pickup an hour later in the story happens within a minute. The services read the real clock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

import structlog

from omnicanal.settings import Settings
from omnicanal.simulation import journeys
from omnicanal.simulation.context import Context
from omnicanal.simulation.engine import Housekeeping
from omnicanal.simulation.model import (
    DEFAULT_MIX,
    QuotaSampler,
    make_population,
    method_shares,
)
from omnicanal.simulation.world import load_world, set_up_retailer
from omnicanal.storage.database import Database

log = structlog.get_logger(__name__)
LIVE_TIME_SCALE = 1 / 120  # an hour of the story in 30 seconds
SWEEP_SECONDS = 15.0


class LiveActivity:
    """A stoppable background thread of simulated customers."""

    def __init__(
        self,
        db: Database,
        *,
        rate: float,
        customers: int,
        stores: int,
        seed: int,
        skus: int,
        drain: bool,
        channel_mix: Mapping[str, float],
        click_collect_share: float,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be above 0 visits per second")
        self.db = db
        self.rate = rate
        self.drain = drain
        self.seed = seed
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="omnicanal-live-activity", daemon=True
        )
        self._setup = (customers, stores, skus)
        self.channels = QuotaSampler(channel_mix)
        self.methods = {c: QuotaSampler(method_shares(c, click_collect_share)) for c in channel_mix}
        self.visits = 0
        self.steps = 0
        self.tally: Counter[str] = Counter()

    def start(self) -> LiveActivity:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            ctx = self._context()
        except Exception:
            log.exception("live activity could not start")
            return
        rng = random.Random(f"{self.seed}:live")
        keeper = Housekeeping(self.db) if self.drain else None
        next_visit = time.monotonic()
        next_sweep = time.monotonic() + SWEEP_SECONDS
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_visit:
                self._visit(ctx, rng)
                next_visit = now + rng.expovariate(self.rate)
            self._run_due(ctx)
            if keeper is not None and now >= next_sweep:
                self._step(keeper.run)
                next_sweep = now + SWEEP_SECONDS
            due = ctx.next_due()
            wait = next_visit - time.monotonic()
            if due is not None:
                wait = min(wait, (due - ctx.now()).total_seconds())
            self._stop.wait(max(0.05, min(wait, 1.0)))
        self.tally.update(ctx.tally)

    def _context(self) -> Context:
        customers, stores, skus = self._setup
        set_up_retailer(self.db, stores=stores, skus=skus, seed=self.seed)
        world = load_world(self.db, stores=stores, seed=self.seed)
        people = make_population(
            random.Random(f"{self.seed}:people"), customers, [s.home() for s in world.stores]
        )
        return Context(
            self.db, world, people, seed=self.seed, time_scale=LIVE_TIME_SCALE, live=True
        )

    def _visit(self, ctx: Context, rng: random.Random) -> None:
        channel = self.channels.draw(rng)
        method = self.methods[channel].draw(rng)
        person = rng.choice(ctx.people)
        self.visits += 1
        visit_rng = ctx.rng_for(self.visits)
        self._step(lambda: journeys.visit(ctx, person, visit_rng, channel, method))

    def _run_due(self, ctx: Context) -> None:
        now = ctx.now() + timedelta(milliseconds=1)
        while (due := ctx.next_due()) is not None and due <= now and not self._stop.is_set():
            _, action, _deadline = ctx.pop()
            self._step(action)

    def _step(self, action: object) -> None:
        assert callable(action)
        try:
            action()
        except Exception:  # the demo must go on; the error is in the log
            log.exception("live activity step failed")
            self.tally["failed steps"] += 1
        self.steps += 1


def start_live_activity(
    db: Database,
    settings: Settings | None = None,
    *,
    rate: float = 0.5,
    customers: int = 500,
    stores: int = 24,
    seed: int | None = None,
    skus: int = 600,
    drain: bool | None = None,
    channel_mix: Mapping[str, float] | None = None,
    click_collect_share: float = 0.3,
) -> LiveActivity:
    """Start generating activity on ``db`` in a background thread; ``handle.stop()`` ends it.

    ``drain``: publish events and run the consumers and sweepers here too; by default only
    when ``settings`` say the server runs no background workers (the server's do it)."""
    if drain is None:
        drain = settings is None or not settings.run_background_workers
    return LiveActivity(
        db,
        rate=rate,
        customers=customers,
        stores=stores,
        seed=seed if seed is not None else random.SystemRandom().randrange(10**6),
        skus=skus,
        drain=drain,
        channel_mix=channel_mix or DEFAULT_MIX,
        click_collect_share=click_collect_share,
    ).start()
