"""What every simulated journey shares: the database, the retailer, the customers, the agenda
of actions still to come, and the tally of what was tried and refused."""

from __future__ import annotations

import heapq
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from omnicanal.shared.errors import DomainError
from omnicanal.simulation.model import Persona, store_open_at, zipf_weights
from omnicanal.simulation.world import Place, World
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

T = TypeVar("T")
MERGED = "customers.profile.merged"
Action = Callable[[], object]
log = structlog.get_logger(__name__)


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    action: Action = field(compare=False)
    deadline: bool = field(compare=False, default=False)


class Context:
    """The simulation's shared state. Actions run one at a time, in (time, scheduling order),
    so a run is a function of its seed whatever the speed of the machine."""

    def __init__(
        self,
        db: Database,
        world: World,
        people: list[Persona],
        *,
        seed: int,
        time_scale: float = 1.0,
        live: bool = False,
    ) -> None:
        self.db = db
        self.world = world
        self.people = people
        self.seed = seed
        self.time_scale = time_scale  # live mode: follow-ups come sooner than in real life
        self.live = live
        self.tally: Counter[str] = Counter()
        self.events_waiting = False  # a step emitted events since the last dispatch
        self.consumers_due = False  # a step needs the consumers run before the next one
        # in channel references (tickets, marketplace orders): two runs on one database differ
        self.tag = os.urandom(3).hex()
        self._agenda: list[_Due] = []
        self._seq = 0
        self._weights: dict[int, list[float]] = {}
        self._store_by_code = {s.code: s for s in world.stores}
        self._online = [s.sku for s in world.skus if s.online]

    # -- time and the agenda ------------------------------------------------------------------
    def now(self) -> datetime:
        return self.db.clock.now()

    def later(self, delay: timedelta) -> datetime:
        return self.now() + delay * self.time_scale

    def in_store_hours(self, moment: datetime) -> datetime:
        """Store work (preparing, handing over, returns) happens while the stores are open."""
        return moment if self.live else store_open_at(moment)

    def schedule(self, at: datetime, action: Action, *, deadline: bool = False) -> None:
        self._seq += 1
        heapq.heappush(self._agenda, _Due(at, self._seq, action, deadline))

    def next_due(self) -> datetime | None:
        return self._agenda[0].at if self._agenda else None

    def pop(self) -> tuple[datetime, Action, bool]:
        due = heapq.heappop(self._agenda)
        return due.at, due.action, due.deadline

    def pending(self) -> int:
        return len(self._agenda)

    # -- running one step ---------------------------------------------------------------------
    def attempt(self, what: str, use_case: Callable[[UnitOfWork], T]) -> T | None:
        """Run one use case in its own unit of work; a refusal (no stock, a rule) is part of
        retail life: it is counted, nothing changed, and the journey goes on without it."""
        try:
            with self.db.uow() as uow:
                result = use_case(uow)
                emitted = [e.type for e in uow.emitted]
        except DomainError as refused:
            code = getattr(refused, "code", None) or type(refused).__name__
            self.tally[f"refused {what}: {code}"] += 1
            log.debug("simulated step refused", step=what, detail=refused.detail)
            return None
        self.tally[what] += 1
        self.events_waiting = self.events_waiting or bool(emitted)
        # carts, orders and tickets follow a merge through consumers: the server's dispatcher
        # runs them within milliseconds, so the next step must find them done
        self.consumers_due = self.consumers_due or (MERGED in emitted)
        return result

    # -- choices ------------------------------------------------------------------------------
    def rng_for(self, number: int) -> random.Random:
        return random.Random(f"{self.seed}:visit:{number}")

    def popular(self, rng: random.Random, pool: list[str], count: int) -> list[str]:
        """Up to ``count`` different SKUs of ``pool`` (best-sellers first), by popularity."""
        if not pool:
            return []
        weights = self._weights.get(len(pool))
        if weights is None:
            weights = self._weights[len(pool)] = zipf_weights(len(pool))
        chosen: list[str] = []
        for _ in range(count * 3):
            sku = rng.choices(pool, cum_weights=weights)[0]
            if sku not in chosen:
                chosen.append(sku)
            if len(chosen) == count:
                break
        return chosen

    def online_skus(self, rng: random.Random, count: int) -> list[str]:
        return self.popular(rng, self._online, count)

    def shelf_skus(
        self, rng: random.Random, store: Place, count: int, *, online: bool = False
    ) -> list[str]:
        shelf = self.world.shelves.get(store.id, [])
        if online:
            shelf = [s for s in shelf if self.world.by_sku[s].online]
        else:
            shelf = [s for s in shelf if self.world.by_sku[s].in_store]
        return self.popular(rng, shelf, count)

    def home_store(self, person: Persona) -> Place:
        store = self._store_by_code.get(person.home.code)
        if store is not None:
            return store
        return self.world.nearest(self.world.stores, person.latitude, person.longitude)[0]

    def stores_near(self, person: Persona, capability: str, *, limit: int = 3) -> list[Place]:
        able = [s for s in self.world.stores if capability in s.capabilities]
        return self.world.nearest(able, person.latitude, person.longitude)[:limit]

    def relay_near(self, person: Persona) -> Place | None:
        relays = self.world.nearest(self.world.relay_points, person.latitude, person.longitude)
        return relays[0] if relays else None
