"""Outbox and event-delivery tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType

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


class ConsumerCursorRow(Base):
    """How far one in-process consumer has read the feed. Locked by each handler transaction, so
    two server processes never apply one event twice."""

    __tablename__ = "event_consumer_cursors"

    consumer: Mapped[str] = mapped_column(String(80), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class ProcessedEventRow(Base):
    """One row per (consumer, event) applied: the record that makes a replay a no-op."""

    __tablename__ = "event_processed"

    consumer: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    processed_at: Mapped[datetime]


class ConsumerFailureRow(Base):
    """An event a consumer failed on: retried with backoff, parked after too many attempts."""

    __tablename__ = "event_consumer_failures"

    consumer: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # retrying | parked | resolved
    last_error: Mapped[str] = mapped_column(String(2000))
    next_attempt_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookEndpointRow(Base):
    """A channel's HTTPS endpoint subscribed to event types (``orders.*`` patterns allowed)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JsonType)
    secret: Mapped[str] = mapped_column(String(100))  # needed in clear to sign; shown once
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class WebhookDeliveryRow(Base):
    """One event to one endpoint: pending → delivered, or retried with backoff until dead."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "position"),
    )
