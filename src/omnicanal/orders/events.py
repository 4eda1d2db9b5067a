"""Order events. The subject of each is the order id, so an order's timeline is its events.

Contact details and addresses never travel in events: a message reads them from the order at
send time (and erasure only has the order row to blank).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class _OrderEvent(Event):
    order_id: str
    channel: str
    customer_id: str | None
    store_id: str | None

    @property
    def subject(self) -> str:
        return self.order_id


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(_OrderEvent):
    """An order was captured from a channel; its groups were routed and stock held."""

    type = "orders.order.placed"
    external_ref: str | None
    currency: str
    total: str  # decimal string
    total_minor: int  # after promotions
    discount_minor: int
    bonus_points: int  # loyalty points the promotions give
    cart_id: str | None
    status: str
    lines: list[dict[str, Any]] = field(default_factory=list)  # sku, quantity, unit_price
    groups: list[dict[str, Any]] = field(default_factory=list)  # id, method, location_id, status
    routing: dict[str, Any] = field(default_factory=dict)  # brokered, split, first_rule
    promotions: list[str] = field(default_factory=list)  # ids of the promotions applied


@dataclass(frozen=True, kw_only=True)
class GroupStatusChanged(_OrderEvent):
    """A fulfilment group moved in the state machine (one event type per target status)."""

    group_id: str
    method: str
    location_id: str | None
    previous: str
    status: str
    order_status: str
    lines: list[dict[str, Any]] = field(default_factory=list)  # sku, quantity (live units)
    reason: str | None = None


def _group_event(status: str, doc: str) -> type[GroupStatusChanged]:
    cls = type(
        f"Group{''.join(p.title() for p in status.split('_'))}",
        (GroupStatusChanged,),
        {"type": f"orders.group.{status}", "__doc__": doc, "__module__": __name__},
    )
    return dataclass(frozen=True, kw_only=True)(cls)


GROUP_EVENTS: dict[str, type[GroupStatusChanged]] = {
    status: _group_event(status, doc)
    for status, doc in {
        "allocated": "Stock is held at the serving location.",
        "backordered": "No location can serve the group now; it waits for stock.",
        "picking": "The serving location is preparing the group.",
        "ready_for_pickup": "Ready at the store; the customer gets the pickup code.",
        "shipped": "The parcel left the serving location.",
        "collected": "Handed over at the store with the right pickup code.",
        "delivered": "Delivered to the customer or the relay point.",
        "declined": "Reserve-and-try: tried on in store, not bought.",
        "no_show": "Not collected in time; the units went back on sale.",
        "cancelled": "Cancelled; held units went back on sale.",
    }.items()
}


@dataclass(frozen=True, kw_only=True)
class OrderStatusChanged(_OrderEvent):
    """The order's derived status changed (what the customer sees)."""

    type = "orders.order.status_changed"
    previous: str
    status: str
    partial: bool


@dataclass(frozen=True, kw_only=True)
class PaymentRecorded(_OrderEvent):
    """A payment reference was recorded (authorised, captured, refunded, voided)."""

    type = "orders.payment.recorded"
    payment_id: str
    kind: str
    provider: str
    reference: str
    amount: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class PickupCodeRejected(_OrderEvent):
    """A wrong pickup code was given at hand-over."""

    type = "orders.pickup.code_rejected"
    group_id: str
    attempts: int
