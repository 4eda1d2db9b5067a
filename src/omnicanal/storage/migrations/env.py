from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from omnicanal.storage.registry import load_all_tables

metadata = load_all_tables()
url = context.config.attributes["url"]


def run() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
