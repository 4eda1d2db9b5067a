"""The review queue of probable duplicates: pairs of profiles the matcher scored, and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType


class DuplicateCandidateRow(Base):
    """Two live profiles that may be one person. ``open`` rows are the queue (the latest scan's
    view); ``accepted`` ones were merged (``merge_id``); ``rejected`` ones are remembered so the
    pair is never proposed again. Holds ids, levels and weights only: no personal values."""

    __tablename__ = "customer_duplicate_candidates"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    left_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"))
    right_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"))
    match_weight: Mapped[float]
    match_probability: Mapped[float]
    # [{"field": "family_name", "level": "one typo", "match_weight": 6.1}, ...]
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(10), default="open")
    found_at: Mapped[datetime]
    scored_at: Mapped[datetime]  # the last scan that scored the pair
    decided_by: Mapped[str | None] = mapped_column(String(60))  # API key id, or "cli"
    decided_channel: Mapped[str | None] = mapped_column(String(30))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(200))
    merge_id: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        UniqueConstraint("left_id", "right_id", name="uq_customer_duplicate_candidates_pair"),
        CheckConstraint("left_id < right_id", name="ordered_pair"),
        CheckConstraint("status IN ('open', 'accepted', 'rejected')", name="duplicate_status"),
        Index("ix_customer_duplicate_candidates_queue", "status", "match_weight", "id"),
        Index("ix_customer_duplicate_candidates_right", "right_id"),
    )
