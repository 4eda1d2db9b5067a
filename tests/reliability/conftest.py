"""Real services for the reliability tests: NATS JetStream, a PostgreSQL database of their own,
``omnicanal serve`` processes.

NATS: ``OMNICANAL_TEST_NATS_URL`` (default ``nats://127.0.0.1:4222``); every test gets a stream
of its own (random name), deleted after it. PostgreSQL: the multi-process tests need it; when
the suite runs on PostgreSQL they use ``<suite database>_reliability`` on the same server (never
the suite's own database, which the other tests truncate); on SQLite they are skipped, since
several processes on one SQLite file is not the scale-out layout and the PostgreSQL run of CI
covers them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlparse

import nats
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from omnicanal.storage.migrate import fresh_schema
from tests.conftest import service_unavailable

T = TypeVar("T")

NATS_URL = os.environ.get("OMNICANAL_TEST_NATS_URL", "nats://127.0.0.1:4222")


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), 2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def nats_url() -> str:
    if not reachable(NATS_URL):
        service_unavailable(f"NATS is not reachable at {NATS_URL}")
    return NATS_URL


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh event loop in its own thread: the main thread
    may already run a loop (Playwright's sync API keeps one for the browser tests' session)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture
def stream(nats_url: str) -> Iterator[str]:
    """A JetStream stream name of this test's own (subjects ``<name lower>.>``), deleted after."""
    name = f"TEST_{uuid.uuid4().hex[:10].upper()}"
    yield name
    if reachable(nats_url):
        run_async(_delete_stream(nats_url, name))


@pytest.fixture(scope="session")
def reliability_url(database_url: str) -> str:
    """A PostgreSQL database of the reliability tests' own, schema built from the tables and
    stamped at the migration head (``omnicanal serve`` then finds nothing to migrate)."""
    suite = make_url(database_url)
    if suite.get_backend_name() != "postgresql":
        pytest.skip(
            "scale-out tests need PostgreSQL (several server processes on one database); "
            "run with OMNICANAL_TEST_DATABASE_URL=postgresql+psycopg://… (CI's PostgreSQL run)"
        )
    name = f"{suite.database}_reliability"
    admin = create_engine(suite.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if found.first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        service_unavailable(f"cannot create the PostgreSQL database {name}: {exc}")
    finally:
        admin.dispose()
    url = suite.set(database=name).render_as_string(hide_password=False)
    fresh_schema(url, stamp=True)
    return url
