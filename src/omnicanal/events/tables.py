"""Outbox and event-delivery tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT identity.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEventRow(Base):
    """Every event, written in the transaction of the change it describes.

    ``seq`` is the insertion order; ``position`` is the public feed order, assigned by the single
    dispatcher after commit, so a reader of ``/v1/events?after=N`` never skips an event that
    committed late.
    """

    __tablename__ = "outbox_events"

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str | None] = mapped_column(String(80))
    data: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    published_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "seq",
            sqlite_where=text("position IS NULL"),
            postgresql_where=text("position IS NULL"),
        ),
        Index("ix_outbox_type_position", "type", "position"),
        Index("ix_outbox_subject", "subject"),
    )
