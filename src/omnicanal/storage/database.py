"""The database handle: engine, sessions, the unit of work and commit notifications.

SQLite runs in WAL mode and every write transaction starts with ``BEGIN IMMEDIATE``, so two
writers never both read-then-write (the classic oversell); read-only sessions start deferred.
PostgreSQL runs READ COMMITTED and services take row locks in key order where they must.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from omnicanal.shared.clock import Clock, SystemClock
from omnicanal.storage.uow import UnitOfWork


def _sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        pool_size: int = 20,
        echo: bool = False,
    ) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        self.clock: Clock = clock or SystemClock()
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"check_same_thread": False, "timeout": 60},
            )
            _sqlite_hooks(self.engine)
            read_bind: Engine = self.engine.execution_options(sqlite_begin="DEFERRED")
        else:
            self.engine = create_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            read_bind = self.engine
        self._write_sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(bind=read_bind, expire_on_commit=False)
        self._committed = threading.Condition()
        self._commit_listeners: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def uow(self) -> UnitOfWork:
        """A unit of work: commits on a clean exit, rolls back on an exception."""
        return UnitOfWork(self._write_sessions, clock=self.clock, on_commit=self._notify)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session for queries and views."""
        with self._read_sessions() as session:
            # closing ends the transaction; rows read stay usable (expunged, not expired)
            yield session

    # Commit notifications wake the event dispatcher without polling latency.
    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        self._commit_listeners.append(listener)

    def _notify(self, emitted_events: int) -> None:
        if emitted_events:
            for listener in list(self._commit_listeners):
                listener()

    def dispose(self) -> None:
        self.engine.dispose()
