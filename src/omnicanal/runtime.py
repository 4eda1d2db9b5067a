"""Background workers run by the server process: event dispatch, webhooks, sweepers.

Each worker is a ``Periodic``: ``run_once()`` does one bounded batch and returns how much it did;
the runner calls it again at once while there is work, else waits its interval or a wake-up.

Every API worker process (``omnicanal serve --workers N``) runs the same workers. Those that
claim their rows (``FOR UPDATE SKIP LOCKED``) or take their own locks run everywhere; the
sweepers that do not are wrapped by ``one_at_a_time``: a round runs only in the process holding
a PostgreSQL advisory lock (released with the connection if the process dies).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import text

from omnicanal.storage.database import Database

log = structlog.get_logger(__name__)


@dataclass
class Periodic:
    name: str
    run_once: Callable[[], int]
    interval: float
    wake: threading.Event = field(default_factory=threading.Event)
    close: Callable[[], None] | None = None  # called once the runner has stopped it


def one_at_a_time(db: Database, worker: Periodic) -> Periodic:
    """``worker`` whose rounds never overlap across server processes (PostgreSQL): a process
    that does not get the advisory lock skips the round. SQLite: unchanged (one writer)."""
    if not db.is_postgres:
        return worker
    key = zlib.crc32(f"omnicanal-worker:{worker.name}".encode())

    def run_once() -> int:
        with db.engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                return 0  # another process runs this round
            conn.commit()  # the session lock outlives this transaction
            try:
                return worker.run_once()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()

    return Periodic(worker.name, run_once, worker.interval, worker.wake, worker.close)


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
        for worker in self.workers:
            if worker.close is not None:
                try:
                    worker.close()
                except Exception:
                    log.exception("background worker did not close cleanly", worker=worker.name)

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
