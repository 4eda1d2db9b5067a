"""Publishing: committed outbox rows get their public feed position (ADR 0003).

One publisher at a time (a PostgreSQL advisory lock; SQLite's single writer) numbers the
committed, unpublished rows in insertion order, contiguously after the last position. A row whose
transaction committed late gets a later position, so a feed reader never skips one.
"""

from __future__ import annotations

from sqlalchemy import func, select, text, update

from omnicanal.events.tables import OutboxEventRow
from omnicanal.storage.database import Database

PUBLISHER_LOCK = 0x6F6D6E69  # "omni": the advisory lock key of the single publisher


def publish(db: Database, *, limit: int = 1000) -> int:
    """Number up to ``limit`` committed events; returns how many were published."""
    with db.uow() as uow:
        session = uow.session
        if db.is_postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUBLISHER_LOCK})
        seqs = list(
            session.scalars(
                select(OutboxEventRow.seq)
                .where(OutboxEventRow.position.is_(None))
                .order_by(OutboxEventRow.seq)
                .limit(limit)
            )
        )
        if not seqs:
            return 0
        head = session.scalar(select(func.max(OutboxEventRow.position))) or 0
        now = uow.now()
        session.execute(
            update(OutboxEventRow),
            [
                {"seq": seq, "position": head + offset, "published_at": now}
                for offset, seq in enumerate(seqs, start=1)
            ],
        )
    return len(seqs)


def head_position(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.max(OutboxEventRow.position))) or 0
