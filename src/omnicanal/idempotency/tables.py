from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class IdempotencyRecordRow(Base):
    """The first successful response to a (key, Idempotency-Key) pair, kept for replays.

    Written in the same transaction as the change it answers, so a crash leaves either both or
    neither: a retry after a crash either replays the answer or performs the change once.
    """

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_key_id: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status_code: Mapped[int]
    response_body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key", name="uq_idempotency_key"),
        Index("ix_idempotency_created", "created_at"),
    )
