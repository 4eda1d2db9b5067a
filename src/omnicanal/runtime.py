"""Background workers run by the server process: event dispatch, webhooks, sweepers.

Each worker is a ``Periodic``: ``run_once()`` does one bounded batch and returns how much it did;
the runner calls it again at once while there is work, else waits its interval or a wake-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)


@dataclass
class Periodic:
    name: str
    run_once: Callable[[], int]
    interval: float
    wake: threading.Event = field(default_factory=threading.Event)


class BackgroundRunner:
    def __init__(self, workers: list[Periodic]) -> None:
        self.workers = workers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for worker in self.workers:
            thread = threading.Thread(
                target=self._loop, args=(worker,), name=f"omnicanal-{worker.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for worker in self.workers:
            worker.wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, worker: Periodic) -> None:
        while not self._stop.is_set():
            try:
                done = worker.run_once()
            except Exception:
                log.exception("background worker failed", worker=worker.name)
                done = 0
            if not done:
                worker.wake.wait(worker.interval)
                worker.wake.clear()
