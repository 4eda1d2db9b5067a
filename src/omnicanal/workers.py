"""The background workers a server runs, gathered from the contexts."""

from __future__ import annotations

from omnicanal.runtime import Periodic
from omnicanal.settings import Settings
from omnicanal.storage.database import Database


def background_workers(db: Database, settings: Settings) -> list[Periodic]:
    workers: list[Periodic] = [reservation_sweeper(db, settings)]
    return workers


def reservation_sweeper(db: Database, settings: Settings) -> Periodic:
    """Gives expired cart and try-in-store holds back to sale."""
    from omnicanal.inventory.service import sweep_expired

    def run_once() -> int:
        with db.uow() as uow:
            return sweep_expired(uow)

    return Periodic("reservation-sweeper", run_once, settings.sweeper_interval_seconds)
