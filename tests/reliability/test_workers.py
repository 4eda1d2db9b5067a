"""Background workers in several server processes: the transport chosen from the settings, and
the sweepers that run in one process at a time."""

from __future__ import annotations

import zlib

from sqlalchemy import text

from omnicanal.runtime import Periodic, one_at_a_time
from omnicanal.settings import Settings
from omnicanal.storage.database import Database
from omnicanal.workers import background_workers, event_dispatcher


def test_the_event_worker_is_the_in_process_bus_unless_nats_is_configured(db: Database) -> None:
    embedded = event_dispatcher(db, Settings(database_url=db.url))
    assert embedded.name == "event-dispatcher"
    assert embedded.close is None

    relay = event_dispatcher(db, Settings(database_url=db.url, nats_url="nats://127.0.0.1:1"))
    assert relay.name == "event-relay"
    assert relay.close is not None
    relay.close()  # never started: nothing to stop, nothing left behind


def test_every_process_runs_the_same_workers(db: Database) -> None:
    names = [w.name for w in background_workers(db, Settings(database_url=db.url))]
    assert names[:4] == [
        "event-dispatcher",
        "webhook-sender",
        "notification-sender",
        "recommendations-refresh",
    ]
    assert "reservation-sweeper" in names
    assert len(names) == len(set(names))


def test_a_sweeper_round_runs_in_one_process_at_a_time(db: Database) -> None:
    rounds: list[str] = []
    sweeper = Periodic("tests-sweeper", lambda: rounds.append("swept") or 1, 1.0)
    guarded = one_at_a_time(db, sweeper)
    if not db.is_postgres:
        assert guarded is sweeper  # SQLite: one writer, one process
        return
    key = zlib.crc32(b"omnicanal-worker:tests-sweeper")
    with db.engine.connect() as other_process:
        other_process.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        assert guarded.run_once() == 0  # another process holds this round
        assert rounds == []
        other_process.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        other_process.commit()
    assert guarded.run_once() == 1
    assert guarded.run_once() == 1  # the lock was released after each round
    assert rounds == ["swept", "swept"]
