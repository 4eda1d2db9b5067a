"""What recommendations learn from the other contexts' events. Payloads read:

- ``orders.order.placed``: ``order_id``, ``customer_id``, ``channel``, ``store_id``, ``lines``
  (``sku``, ``quantity``): the order's basket counts from placement (a web basket is a purchase
  intent as strong as a paid one, and suggestions learn without waiting days for delivery).
- ``orders.order.status_changed``: ``status`` ``cancelled`` or ``no_show`` stops the basket
  counting; any other status (``completed`` included) counts it again if it had stopped.
- ``returns.return.received``: ``return_id``, ``order_id``, ``profile_id`` (the customer now)
  or ``customer_id``, ``lines`` (``sku``, ``condition``): each returned SKU is never offered to
  that customer again.
- ``customers.profile.merged`` / ``customers.profile.erased``: history follows the survivor;
  an erased customer's baskets become anonymous and their returns list goes.

Till sales reach loyalty without their lines in any event: tills post them to
``POST /v1/recommendations/purchases``.
"""

from __future__ import annotations

from typing import Any

from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.recommendations import service
from omnicanal.recommendations.service import Purchase
from omnicanal.storage.uow import UnitOfWork

ORDER_PLACED = "orders.order.placed"
ORDER_STATUS = "orders.order.status_changed"
RETURN_RECEIVED = "returns.return.received"
PROFILE_MERGED = "customers.profile.merged"
PROFILE_ERASED = "customers.profile.erased"
NOT_BOUGHT = ("cancelled", "no_show")


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def on_event(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    if event.type == ORDER_PLACED:
        service.record_purchase(
            uow,
            Purchase(
                source="order",
                source_ref=str(data["order_id"]),
                channel=str(data.get("channel") or "unknown"),
                skus=[
                    (str(line["sku"]), int(line.get("quantity") or 1))
                    for line in data.get("lines") or []
                ],
                at=event.occurred_at,
                customer_id=_text(data.get("customer_id")),
                store_id=_text(data.get("store_id")),
            ),
        )
    elif event.type == ORDER_STATUS:
        service.set_purchase_active(
            uow,
            source="order",
            source_ref=str(data["order_id"]),
            active=data.get("status") not in NOT_BOUGHT,
        )
    elif event.type == RETURN_RECEIVED:
        service.record_return(
            uow,
            return_id=str(data["return_id"]),
            skus=[
                (str(line["sku"]), _text(line.get("condition"))) for line in data.get("lines") or []
            ],
            at=event.occurred_at,
            customer_id=_text(data.get("profile_id")) or _text(data.get("customer_id")),
            order_id=_text(data.get("order_id")),
        )
    elif event.type == PROFILE_MERGED:
        service.follow_merge(
            uow,
            survivor_id=str(data["survivor_id"]),
            absorbed_ids=[str(i) for i in data.get("absorbed_ids") or []],
        )
    elif event.type == PROFILE_ERASED:
        erased = {str(i) for i in data.get("erased_ids") or []} | {str(data["profile_id"])}
        service.forget_customers(uow, sorted(erased))


CONSUMERS = [
    Consumer(
        "recommendations.baskets",
        (ORDER_PLACED, ORDER_STATUS, RETURN_RECEIVED, PROFILE_MERGED, PROFILE_ERASED),
        on_event,
    )
]
