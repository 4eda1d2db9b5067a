"""Adding to the rollups: one upsert per (metric, day, channel, store, currency) in the daily
table and one in the monthly table."""

from __future__ import annotations

from datetime import date
from typing import Any, Required, TypedDict

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from omnicanal.analytics.model import month_start
from omnicanal.analytics.tables import NO_CURRENCY, NO_STORE, DailyRollupRow, MonthlyRollupRow


class Where(TypedDict, total=False):
    """The dimensions of a rollup row, to pass along as ``**where``."""

    channel: Required[str]
    store_id: str | None
    currency: str | None


def _upsert(
    session: Session, row: type[DailyRollupRow | MonthlyRollupRow], values: dict[str, Any]
) -> None:
    keys = [k for k in values if k not in ("n", "total")]
    table = row.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(row).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=keys,
            set_={"n": table.c.n + stmt.excluded.n, "total": table.c.total + stmt.excluded.total},
        )
    )


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
    """Adds ``n`` and ``total`` to the day's and the month's rollup rows (negative amounts take
    back, e.g. when an order counted as a sale is cancelled whole)."""
    key = {
        "metric": metric,
        "channel": channel or "unknown",
        "store_id": store_id or NO_STORE,
        "currency": currency or NO_CURRENCY,
    }
    _upsert(session, DailyRollupRow, {**key, "day": day, "n": n, "total": total})
    _upsert(session, MonthlyRollupRow, {**key, "month": month_start(day), "n": n, "total": total})
