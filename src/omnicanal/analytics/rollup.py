"""Adding to the daily rollups: one upsert per (metric, day, channel, store, currency)."""

from __future__ import annotations

from datetime import date
from typing import Required, TypedDict

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from omnicanal.analytics.tables import NO_CURRENCY, NO_STORE, DailyRollupRow


class Where(TypedDict, total=False):
    """The dimensions of a rollup row, to pass along as ``**where``."""

    channel: Required[str]
    store_id: str | None
    currency: str | None


_KEY = ("metric", "day", "channel", "store_id", "currency")


def bump(
    session: Session,
    metric: str,
    day: date,
    *,
    channel: str,
    store_id: str | None = None,
    currency: str | None = None,
    n: int = 1,
    total: int = 0,
) -> None:
    """Adds ``n`` and ``total`` to one rollup row (negative amounts take back, e.g. when an
    order counted as a sale is cancelled whole)."""
    values = {
        "metric": metric,
        "day": day,
        "channel": channel or "unknown",
        "store_id": store_id or NO_STORE,
        "currency": currency or NO_CURRENCY,
        "n": n,
        "total": total,
    }
    table = DailyRollupRow.__table__
    if session.get_bind().dialect.name == "postgresql":
        pg = pg_insert(DailyRollupRow).values(**values)
        session.execute(
            pg.on_conflict_do_update(
                index_elements=list(_KEY),
                set_={"n": table.c.n + pg.excluded.n, "total": table.c.total + pg.excluded.total},
            )
        )
        return
    lite = sqlite_insert(DailyRollupRow).values(**values)
    session.execute(
        lite.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={"n": table.c.n + lite.excluded.n, "total": table.c.total + lite.excluded.total},
        )
    )
