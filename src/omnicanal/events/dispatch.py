"""The dispatcher: publish committed events, then feed every in-process consumer.

The server runs it as a background worker woken by each commit that emitted events; tests and
the CLI call ``drain(db)`` to run it until nothing is left to do.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from omnicanal.events.consumers import Consumer, ConsumerPolicy, run_consumer
from omnicanal.events.publisher import publish
from omnicanal.storage.database import Database

log = structlog.get_logger(__name__)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        consumers: Sequence[Consumer] | None = None,
        policy: ConsumerPolicy | None = None,
    ) -> None:
        if consumers is None:
            from omnicanal.consumers import all_consumers

            consumers = all_consumers()
        names = [c.name for c in consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"two consumers share a name: {sorted(names)}")
        self.db = db
        self.consumers = list(consumers)
        self.policy = policy or ConsumerPolicy()

    def run_once(self) -> int:
        """One round: publish a batch, then give each consumer its next batch."""
        done = publish(self.db)
        for consumer in self.consumers:
            done += run_consumer(self.db, consumer, self.policy)
        return done


def drain(
    db: Database,
    consumers: Sequence[Consumer] | None = None,
    *,
    policy: ConsumerPolicy | None = None,
    max_rounds: int = 1000,
) -> int:
    """Publish and consume until idle (events emitted by handlers included)."""
    dispatcher = Dispatcher(db, consumers, policy)
    total = 0
    for _ in range(max_rounds):
        done = dispatcher.run_once()
        if not done:
            return total
        total += done
    raise RuntimeError(f"events still flowing after {max_rounds} rounds: a consumer loops")
