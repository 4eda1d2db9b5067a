"""Return events. The subject of each is the return id.

Every payload names the return, its order, the customer (``customer_id`` and ``profile_id``, the
same id: the customers context reads either), the channel the return came through and the
receiving location (``store_id``, also ``location_id``), and the SKUs concerned, so a message
about a returned item (a review request) can be suppressed. Money is a decimal string with its
currency, plus integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class _ReturnEvent(Event):
    return_id: str
    order_id: str
    customer_id: str | None
    profile_id: str | None
    channel: str  # the channel the return came through (pos for a store desk)
    order_channel: str  # the channel the order was placed on
    store_id: str  # the receiving store or warehouse
    location_id: str
    skus: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return self.return_id


@dataclass(frozen=True, kw_only=True)
class ReturnRequested(_ReturnEvent):
    """A return was asked for at a desk or online; eligible, decided at once or queued."""

    type = "returns.return.requested"
    status: str  # completed (approved at once) | in_review
    resolution: str  # refund | store_credit | exchange: what the customer wants
    currency: str
    refund_minor: int  # value of the returned units
    item_count: int
    lines: list[dict[str, Any]] = field(default_factory=list)  # sku, quantity, condition, reason


@dataclass(frozen=True, kw_only=True)
class ReturnInReview(_ReturnEvent):
    type = "returns.return.in_review"
    status: str
    reasons: list[str] = field(default_factory=list)
    refund_minor: int
    currency: str


@dataclass(frozen=True, kw_only=True)
class ReturnReceived(_ReturnEvent):
    """The units are back in stock at the receiving location and the customer is settled.

    ``refund_minor`` is the value taken back from the original purchase whatever the
    resolution (money, credit note, or value carried to an exchange order, which earns on its
    own): loyalty reverses points in proportion to it; ``refund`` is the same as money."""

    type = "returns.return.received"
    status: str
    resolution: str
    refund_minor: int
    currency: str
    refund: dict[str, str]  # {"amount": "89.90", "currency": "EUR"}
    money_refunded_minor: int  # what went back to the original payment
    item_count: int
    lines: list[dict[str, Any]] = field(default_factory=list)  # sku, quantity, condition
    credit_note_id: str | None = None
    exchange_order_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReturnRejected(_ReturnEvent):
    type = "returns.return.rejected"
    status: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RefundIssued(_ReturnEvent):
    type = "returns.refund.issued"
    amount: str  # decimal string
    amount_minor: int
    currency: str
    provider: str
    payment_reference: str  # the original payment refunded
    refund_reference: str


@dataclass(frozen=True, kw_only=True)
class StoreCreditIssued(_ReturnEvent):
    type = "returns.store_credit.issued"
    credit_note_id: str
    amount: str
    amount_minor: int
    currency: str


@dataclass(frozen=True, kw_only=True)
class ExchangeCreated(_ReturnEvent):
    type = "returns.exchange.created"
    new_order_id: str
    method: str  # click_and_collect (handed over at the desk) | home_delivery
    new_order_minor: int
    to_pay_minor: int  # the exchange costs more: paid at the desk
    currency: str
    new_skus: list[str] = field(default_factory=list)
