"""What orders do when other contexts' events arrive."""

from __future__ import annotations

from sqlalchemy import select, update

from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.orders.model import GroupStatus
from omnicanal.orders.tables import FulfilmentGroupRow, OrderRow
from omnicanal.storage.uow import UnitOfWork


def follow_merge(uow: UnitOfWork, event: StoredEvent) -> None:
    """Orders of absorbed profiles now belong to the survivor."""
    absorbed = list(event.data.get("absorbed_ids") or [])
    if absorbed:
        uow.session.execute(
            update(OrderRow)
            .where(OrderRow.customer_id.in_(absorbed))
            .values(customer_id=event.data["survivor_id"])
        )


def forget_customer(uow: UnitOfWork, event: StoredEvent) -> None:
    """Erasure: orders stay (accounting needs them) but lose every personal field."""
    erased = list(event.data.get("erased_ids") or []) or [event.data["profile_id"]]
    uow.session.execute(
        update(OrderRow)
        .where(OrderRow.customer_id.in_(erased))
        .values(contact={}, shipping_address=None)
    )


def try_in_store_expired(uow: UnitOfWork, event: StoredEvent) -> None:
    """A reserve-and-try hold ran out: the group becomes a no-show (units already back)."""
    from omnicanal.orders.fulfilment import load_group, move

    if event.data.get("owner_type") != "try_in_store":
        return
    group_id = event.data["owner_id"]
    group = uow.session.scalars(
        select(FulfilmentGroupRow).where(FulfilmentGroupRow.id == group_id)
    ).first()
    live = {GroupStatus.ALLOCATED.value, GroupStatus.PICKING.value, "ready_for_pickup"}
    if group is None or group.status not in live:
        return
    order, group = load_group(uow, group_id)
    if group.status == GroupStatus.READY_FOR_PICKUP.value:
        move(uow, order, group, GroupStatus.NO_SHOW, reason="try-in-store hold expired")
    else:
        move(uow, order, group, GroupStatus.CANCELLED, reason="try-in-store hold expired")


CONSUMERS = [
    Consumer("orders.follow-merges", ("customers.profile.merged",), follow_merge),
    Consumer("orders.erasure", ("customers.profile.erased",), forget_customer),
    Consumer(
        "orders.try-in-store-expiry", ("inventory.reservation.expired",), try_in_store_expired
    ),
]
