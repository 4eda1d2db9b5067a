"""What loyalty does when orders, returns and customers change.

One consumer reads orders and returns in outbox order (a loyalty payment is linked to its order
before that order's cancellation gives the points back; an order earns before its return takes
them back). Payloads read:

- ``orders.order.status_changed``: ``order_id``, ``status``. ``completed`` earns (the lines are
  read from the orders tables then: only collected or delivered units, cancelled units left
  out); ``cancelled`` and ``no_show`` reverse what the order earned and refund its redemptions.
- ``orders.payment.recorded``: ``order_id``, ``provider``, ``reference``, ``kind``. Provider
  ``loyalty`` with a ``lyr_…`` reference links the redemption to the order; kind ``refunded`` or
  ``voided`` refunds it.
- ``returns.return.received`` (the returns context is to come): ``return_id``, ``order_id``,
  ``refund_minor`` (integer minor units refunded, the whole return), ``currency``. The points
  are reversed in proportion to the refund against the purchase amount, once per return.
"""

from __future__ import annotations

from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.loyalty import service
from omnicanal.loyalty.model import RefType
from omnicanal.shared.ids import has_prefix
from omnicanal.storage.uow import UnitOfWork

RETURN_RECEIVED = "returns.return.received"


def on_order_event(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    if event.type == "orders.order.status_changed":
        order_id = str(data["order_id"])
        if data.get("status") == "completed":
            service.earn_for_order(uow, order_id)
        elif data.get("status") in ("cancelled", "no_show"):
            service.cancel_order(uow, order_id)
    elif event.type == "orders.payment.recorded":
        reference = str(data.get("reference") or "")
        if data.get("provider") != "loyalty" or not has_prefix(reference, "lyr"):
            return
        service.link_redemption(uow, redemption_id=reference, order_id=str(data["order_id"]))
        if data.get("kind") in ("refunded", "voided"):
            service.refund_redemption(
                uow,
                reference,
                channel=str(data.get("channel") or "system"),
                reason=f"payment {data.get('kind')} on order {data['order_id']}",
            )
    elif event.type == RETURN_RECEIVED:
        service.reverse_purchase(
            uow,
            purchase_ref_type=RefType.ORDER,
            purchase_ref_id=str(data["order_id"]),
            refund_minor=int(data["refund_minor"]),
            ref_type=RefType.RETURN,
            ref_id=str(data["return_id"]),
            reason="items returned",
        )


def on_customer_event(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    if event.type == "customers.profile.merged":
        service.follow_profile_merge(
            uow,
            survivor_id=str(data["survivor_id"]),
            absorbed_ids=[str(i) for i in data.get("absorbed_ids") or []],
            merge_id=data.get("merge_id"),
        )
    elif event.type == "customers.profile.erased":
        erased = [str(i) for i in data.get("erased_ids") or []] or [str(data["profile_id"])]
        service.forget_profiles(uow, erased_ids=erased)


CONSUMERS = [
    Consumer(
        "loyalty.orders",
        ("orders.order.status_changed", "orders.payment.recorded", RETURN_RECEIVED),
        on_order_event,
    ),
    Consumer(
        "loyalty.customers",
        ("customers.profile.merged", "customers.profile.erased"),
        on_customer_event,
    ),
]
