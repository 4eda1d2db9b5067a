"""Fixtures shared by every test: a real database (SQLite or PostgreSQL), the app, API keys.

``OMNICANAL_TEST_DATABASE_URL`` selects the database (default: a SQLite file per run).
``OMNICANAL_REQUIRE_SERVICES=1`` turns "service not reachable" skips into failures (CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from omnicanal.api.app import create_app
from omnicanal.auth.service import create_key
from omnicanal.settings import Settings
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from omnicanal.storage.migrate import fresh_schema
from omnicanal.storage.registry import load_all_tables

REQUIRE_SERVICES = os.environ.get("OMNICANAL_REQUIRE_SERVICES") == "1"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def service_unavailable(reason: str) -> None:
    """Skip with a reason, or fail when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (OMNICANAL_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("OMNICANAL_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'omnicanal-test.db'}"
    if make_url(url).get_backend_name() == "postgresql":
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            service_unavailable(f"PostgreSQL at {make_url(url).host} is not reachable: {exc}")
        finally:
            engine.dispose()
    return url


@pytest.fixture(scope="session")
def _schema(database_url: str) -> str:
    fresh_schema(database_url)
    return database_url


def truncate_all(db: Database) -> None:
    tables = list(reversed(load_all_tables().sorted_tables))
    with db.engine.begin() as conn:
        if db.is_postgres:
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def db(_schema: str, clock: FrozenClock) -> Iterator[Database]:
    database = Database(_schema, clock=clock, pool_size=20)
    truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(database_url=db.url, run_background_workers=False, api_key_cache_seconds=0)


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db=db)) as test_client:
        yield test_client


MakeKey = Callable[..., dict[str, str]]


@pytest.fixture
def make_key(db: Database) -> MakeKey:
    """``make_key("web")`` -> headers carrying a fresh key of that channel."""

    def make(
        channel: str = "admin", *, scopes: list[str] | None = None, store_id: str | None = None
    ) -> dict[str, str]:
        with db.uow() as uow:
            created = create_key(
                uow, name=f"test {channel}", channel=channel, scopes=scopes, store_id=store_id
            )
        return {"Authorization": f"Bearer {created.secret}"}

    return make


@pytest.fixture
def admin(make_key: MakeKey) -> dict[str, str]:
    return make_key("admin")
