"""The background workers a server runs, gathered from the contexts."""

from __future__ import annotations

from omnicanal.runtime import Periodic
from omnicanal.settings import Settings
from omnicanal.storage.database import Database


def background_workers(db: Database, settings: Settings) -> list[Periodic]:
    workers: list[Periodic] = []
    return workers
