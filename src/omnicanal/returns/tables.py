"""Return tables: returns, their lines, the credit notes they issue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType


class ReturnRow(Base):
    __tablename__ = "returns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    order_channel: Mapped[str] = mapped_column(String(20))  # where it was bought
    channel: Mapped[str] = mapped_column(String(20))  # where it is returned
    location_id: Mapped[str] = mapped_column(String(40))  # the receiving store or warehouse
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))  # in_review | completed | rejected
    outcome: Mapped[str] = mapped_column(String(20))  # refund | store_credit | exchange
    review_reasons: Mapped[list[str]] = mapped_column(JsonType, default=list)
    currency: Mapped[str] = mapped_column(String(3))
    refund_minor: Mapped[int] = mapped_column(BigInteger)  # value of the returned units
    money_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # to the payment
    to_pay_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # exchange costing more
    payment_reference: Mapped[str | None] = mapped_column(String(200))  # the original payment
    refund_reference: Mapped[str | None] = mapped_column(String(200))
    credit_note_id: Mapped[str | None] = mapped_column(String(40))
    exchange_lines: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    exchange_order_id: Mapped[str | None] = mapped_column(String(40))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    csat_score: Mapped[int | None] = mapped_column(Integer)  # 1..5, optional
    csat_comment: Mapped[str | None] = mapped_column(String(1000))
    requested_by: Mapped[str | None] = mapped_column(String(40))  # API key id
    reviewed_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_returns_status", "status", "id"),
        Index("ix_returns_location", "location_id", "id"),
    )


class ReturnLineRow(Base):
    __tablename__ = "return_lines"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"), index=True)
    order_line_id: Mapped[str] = mapped_column(String(40), index=True)
    sku: Mapped[str] = mapped_column(String(64))  # what came back (restocked under it)
    ordered_sku: Mapped[str] = mapped_column(String(64))  # what the order line sold
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(30))
    condition: Mapped[str] = mapped_column(String(20))
    refund_minor: Mapped[int] = mapped_column(BigInteger)


class CreditNoteRow(Base):
    """Store credit a return gave instead of money."""

    __tablename__ = "return_credit_notes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"), unique=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]
