"""Service desk tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class TicketRow(Base):
    """One customer request. ``profile_id`` is the profile the ticket was opened for (merges
    re-point it to the survivor); ``cycle_opened_at`` is the last (re)opening, from which the
    priority's age counts."""

    __tablename__ = "service_tickets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))  # phone | email | chat | store
    source_channel: Mapped[str] = mapped_column(String(30))  # the API key's channel
    store_id: Mapped[str | None] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    priority: Mapped[str] = mapped_column(String(10))
    priority_points: Mapped[int] = mapped_column(Integer)
    value_points: Mapped[int] = mapped_column(Integer)
    priority_review_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    cycle_opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolution_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str | None] = mapped_column(String(1000))
    csat_at: Mapped[datetime | None]
    csat_resolution: Mapped[int | None] = mapped_column(Integer)  # which resolution was rated
    erased_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'pending', 'resolved', 'closed')", name="ticket_status"
        ),
        CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="ticket_priority"),
        CheckConstraint("csat_score IS NULL OR csat_score BETWEEN 1 AND 5", name="ticket_csat"),
        Index("ix_service_tickets_profile", "profile_id", "id"),
        Index("ix_service_tickets_status", "status", "priority", "id"),
        Index("ix_service_tickets_review", "priority_review_at"),
    )
