"""Inventory events, published on the feed and to webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class StockChanged(Event):
    type = "inventory.stock.changed"
    sku: str
    location_id: str
    movement: str
    on_hand: int
    reserved: int
    committed: int
    damaged: int
    available_to_promise: int

    @property
    def subject(self) -> str:
        return self.sku


@dataclass(frozen=True, kw_only=True)
class _StockAlert(Event):
    sku: str
    location_id: str
    available_to_promise: int
    threshold: int

    @property
    def subject(self) -> str:
        return self.sku


@dataclass(frozen=True, kw_only=True)
class StockLow(_StockAlert):
    type = "inventory.stock.low"


@dataclass(frozen=True, kw_only=True)
class StockOut(_StockAlert):
    type = "inventory.stock.out"


@dataclass(frozen=True, kw_only=True)
class BackInStock(_StockAlert):
    type = "inventory.stock.back_in_stock"


@dataclass(frozen=True, kw_only=True)
class _ReservationEvent(Event):
    reservation_id: str
    owner_type: str
    owner_id: str
    sku: str
    location_id: str
    quantity: int

    @property
    def subject(self) -> str:
        return self.reservation_id


@dataclass(frozen=True, kw_only=True)
class ReservationCreated(_ReservationEvent):
    type = "inventory.reservation.created"
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ReservationReleased(_ReservationEvent):
    type = "inventory.reservation.released"


@dataclass(frozen=True, kw_only=True)
class ReservationFulfilled(_ReservationEvent):
    type = "inventory.reservation.fulfilled"


@dataclass(frozen=True, kw_only=True)
class ReservationExpired(_ReservationEvent):
    type = "inventory.reservation.expired"


@dataclass(frozen=True, kw_only=True)
class TransferShipped(Event):
    type = "inventory.transfer.shipped"
    transfer_id: str
    from_location_id: str
    to_location_id: str
    lines: list[dict[str, int | str]]

    @property
    def subject(self) -> str:
        return self.transfer_id


@dataclass(frozen=True, kw_only=True)
class TransferReceived(Event):
    type = "inventory.transfer.received"
    transfer_id: str
    to_location_id: str
    lines: list[dict[str, int | str]]
    shortfall: int

    @property
    def subject(self) -> str:
        return self.transfer_id
