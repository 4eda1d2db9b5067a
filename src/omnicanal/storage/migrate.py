"""Alembic migrations, driven from code (``omnicanal db upgrade``; also run at serve/demo)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def alembic_config(url: str) -> Config:
    ensure_sqlite_directory(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """For developers: autogenerate a migration from the tables' differences."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


def fresh_schema(url: str, *, stamp: bool = False) -> None:
    """Every table as the code declares it, empty (tests, benchmarks); ``stamp``: marked at the
    migration head, so ``omnicanal serve`` finds nothing to migrate."""
    from omnicanal.storage.registry import load_all_tables

    metadata = load_all_tables()
    engine = create_engine(url)
    try:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        metadata.create_all(engine)
    finally:
        engine.dispose()
    if stamp:
        command.stamp(alembic_config(url), "head")
