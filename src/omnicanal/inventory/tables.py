"""Inventory tables: levels, the append-only movement ledger, reservations, transfers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base

BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class StockLevelRow(Base):
    """Current quantities of one SKU at one location; always equal to the sum of its movements."""

    __tablename__ = "stock_levels"

    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"), primary_key=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # carts, try-in-store holds
    committed: Mapped[int] = mapped_column(Integer, default=0)  # ordered, not yet shipped/collected
    damaged: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    incoming: Mapped[int] = mapped_column(Integer, default=0)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint(
            "on_hand >= 0 AND reserved >= 0 AND committed >= 0 AND damaged >= 0 "
            "AND safety_stock >= 0 AND incoming >= 0",
            name="non_negative",
        ),
        CheckConstraint("reserved + committed + damaged <= on_hand", name="within_on_hand"),
        Index("ix_stock_levels_location", "location_id", "sku"),
    )


class StockMovementRow(Base):
    """Append-only ledger: every change to a level is one movement with its deltas."""

    __tablename__ = "stock_movements"

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    sku: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(40))
    # receipt | sale | adjustment | damage | write_off | transfer_out | transfer_in |
    # transfer_expected | return | reservation | release | expiry
    kind: Mapped[str] = mapped_column(String(30))
    d_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    d_reserved: Mapped[int] = mapped_column(Integer, default=0)
    d_committed: Mapped[int] = mapped_column(Integer, default=0)
    d_damaged: Mapped[int] = mapped_column(Integer, default=0)
    d_incoming: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(300))
    reference_type: Mapped[str | None] = mapped_column(String(30))  # order, cart, transfer, import
    reference_id: Mapped[str | None] = mapped_column(String(64))
    reservation_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(60))  # API key id or "system"
    occurred_at: Mapped[datetime]

    __table_args__ = (Index("ix_stock_movements_sku_location", "sku", "location_id", "seq"),)


class ReservationRow(Base):
    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(20))  # cart | order | try_in_store
    owner_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # active | released | fulfilled | expired
    channel: Mapped[str | None] = mapped_column(String(20))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("quantity > 0", name="positive_quantity"),
        Index("ix_reservations_active_expiry", "status", "expires_at"),
        Index("ix_reservations_owner", "owner_type", "owner_id"),
    )


class TransferRow(Base):
    __tablename__ = "transfers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    from_location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(20))  # draft | in_transit | received | cancelled
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    shipped_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]


class TransferLineRow(Base):
    __tablename__ = "transfer_lines"

    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    received_quantity: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("quantity > 0", name="positive_quantity"),)
