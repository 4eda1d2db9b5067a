"""The lifecycle of a fulfilment group: pick, ready (pickup code), hand over, ship, deliver,
cancel, no-show. Every move goes through ``model.check_transition``; stock follows the group
(sold at hand-over or shipment, released at cancellation, decline or no-show) in the same
transaction as the status and its events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from omnicanal.inventory import service as inventory
from omnicanal.inventory.tables import ReservationRow
from omnicanal.orders import events
from omnicanal.orders.model import (
    MAX_CODE_ATTEMPTS,
    GroupStatus,
    Method,
    check_transition,
    derive_status,
    new_pickup_code,
    pickup_code_matches,
)
from omnicanal.orders.service import get_order
from omnicanal.orders.tables import FulfilmentGroupRow, OrderLineRow, OrderRow
from omnicanal.shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from omnicanal.storage.uow import UnitOfWork


def load_group(
    uow: UnitOfWork, group_id: str, *, acting_store: str | None = None
) -> tuple[OrderRow, FulfilmentGroupRow]:
    """The group and its order, locked (the order row serialises changes to one order)."""
    session = uow.session
    group = session.get(FulfilmentGroupRow, group_id)
    if group is None:
        raise NotFound(
            f"No fulfilment group {group_id}; GET /v1/orders/{{id}} lists an order's groups.",
            code="group-not-found",
            field="group_id",
            group_id=group_id,
        )
    order = get_order(session, group.order_id, lock=True)
    session.refresh(group)
    if acting_store is not None and group.location_id != acting_store:
        raise Forbidden(
            f"Group {group_id} is served by {group.location_id}, not by this key's store "
            f"{acting_store}; only that store can act on it.",
            code="wrong-store",
            store_id=acting_store,
        )
    return order, group


def _lines(uow: UnitOfWork, group: FulfilmentGroupRow) -> list[OrderLineRow]:
    return list(
        uow.session.scalars(
            select(OrderLineRow).where(OrderLineRow.group_id == group.id).order_by(OrderLineRow.sku)
        )
    )


def _live_lines(lines: Sequence[OrderLineRow]) -> list[dict[str, object]]:
    return [
        {"sku": line.sku, "quantity": line.quantity - line.quantity_cancelled}
        for line in lines
        if line.quantity > line.quantity_cancelled
    ]


def move(
    uow: UnitOfWork,
    order: OrderRow,
    group: FulfilmentGroupRow,
    target: GroupStatus,
    *,
    reason: str | None = None,
    lines: Sequence[OrderLineRow] | None = None,
) -> None:
    """Change the group's status, re-derive the order's, emit both events."""
    method = Method(group.method)
    previous = GroupStatus(group.status)
    check_transition(method, previous, target)
    now = uow.now()
    group.status = target.value
    group.updated_at = now
    if target.is_final:
        group.done_at = now
    all_groups = list(
        uow.session.scalars(
            select(FulfilmentGroupRow.status).where(FulfilmentGroupRow.order_id == order.id)
        )
    )
    derived = derive_status(GroupStatus(s) for s in all_groups)
    before = order.status
    order.status = derived.status.value
    order.status_partial = derived.partial
    order.updated_at = now
    uow.emit(
        events.GROUP_EVENTS[target.value](
            order_id=order.id,
            channel=order.channel,
            customer_id=order.customer_id,
            store_id=order.store_id,
            group_id=group.id,
            method=group.method,
            location_id=group.location_id,
            previous=previous.value,
            status=target.value,
            order_status=order.status,
            lines=_live_lines(lines if lines is not None else _lines(uow, group)),
            reason=reason,
        )
    )
    if before != order.status and order.status in {"cancelled", "no_show"}:
        from omnicanal.promotions.service import release

        release(uow, order.id)  # nothing was bought: the promotions' uses and budget come back
    if before != order.status:
        uow.emit(
            events.OrderStatusChanged(
                order_id=order.id,
                channel=order.channel,
                customer_id=order.customer_id,
                store_id=order.store_id,
                previous=before,
                status=order.status,
                partial=derived.partial,
            )
        )


def _reservations(uow: UnitOfWork, lines: Sequence[OrderLineRow]) -> list[str]:
    ids = [line.reservation_id for line in lines if line.reservation_id]
    if not ids:
        return []
    return list(
        uow.session.scalars(
            select(ReservationRow.id)
            .where(ReservationRow.id.in_(ids), ReservationRow.status == "active")
            .order_by(ReservationRow.sku)
        )
    )


def start_picking(uow: UnitOfWork, group_id: str, *, acting_store: str | None = None) -> OrderRow:
    order, group = load_group(uow, group_id, acting_store=acting_store)
    move(uow, order, group, GroupStatus.PICKING)
    return order


def mark_ready(
    uow: UnitOfWork,
    group_id: str,
    *,
    picked: Mapping[str, int] | None = None,
    acting_store: str | None = None,
) -> OrderRow:
    """Ready at the store: a pickup code is made and the notification event fires. ``picked``
    gives the units found when fewer than ordered; the shortfall goes back on sale."""
    order, group = load_group(uow, group_id, acting_store=acting_store)
    if not Method(group.method).is_pickup:
        raise Conflict(
            f"Group {group_id} is a {group.method.replace('_', ' ')}; ship it instead "
            f"(POST /v1/fulfilment-groups/{group_id}/ship).",
            code="not-a-pickup",
        )
    lines = _lines(uow, group)
    if picked:
        _short_pick(uow, order, group, lines, picked)
    if not any(line.quantity > line.quantity_cancelled for line in lines):
        raise InvalidInput(
            "Nothing was picked: cancel the group instead of marking it ready.", field="picked"
        )
    now = uow.now()
    group.pickup_code = new_pickup_code()
    group.code_attempts = 0
    group.ready_at = now
    if group.method != Method.RESERVE_AND_TRY.value:
        from omnicanal.orders.sourcing import routing_config

        hours = routing_config(uow.session).no_show_after_hours
        group.no_show_at = now + timedelta(hours=hours)
    move(uow, order, group, GroupStatus.READY_FOR_PICKUP, lines=lines)
    return order


def _short_pick(
    uow: UnitOfWork,
    order: OrderRow,
    group: FulfilmentGroupRow,
    lines: Sequence[OrderLineRow],
    picked: Mapping[str, int],
) -> None:
    by_sku = {line.sku: line for line in lines}
    unknown = sorted(set(picked) - set(by_sku))
    if unknown:
        raise InvalidInput(
            f"SKU {unknown[0]} is not in this group; picked quantities name its lines only.",
            field="picked",
            sku=unknown[0],
        )
    for sku, found in sorted(picked.items()):
        line = by_sku[sku]
        live = line.quantity - line.quantity_cancelled
        if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found <= live:
            raise InvalidInput(
                f"picked[{sku}] must be between 0 and {live} (the units ordered).",
                field="picked",
                sku=sku,
            )
        if found == live:
            continue
        # the hold is one reservation per line: release it, hold what was found again
        if line.reservation_id:
            inventory.release(uow, line.reservation_id, actor="picking")
            line.reservation_id = None
        if found:
            assert group.location_id is not None
            (again,) = inventory.reserve(
                uow,
                owner_type="try_in_store" if group.method == "reserve_and_try" else "order",
                owner_id=group.id,
                location_id=group.location_id,
                lines=[inventory.Line(sku, found)],
                channel=order.channel,
                actor="picking",
            )
            line.reservation_id = again.id
        line.quantity_cancelled += live - found


def hand_over(
    uow: UnitOfWork, group_id: str, *, pickup_code: str, acting_store: str | None = None
) -> OrderRow:
    """The customer shows the code; the units leave the store as a sale."""
    order, group = load_group(uow, group_id, acting_store=acting_store)
    status = GroupStatus(group.status)
    if status is GroupStatus.COLLECTED:
        raise Conflict(
            f"Group {group_id} was already handed over at {group.done_at}; nothing to do.",
            code="already-collected",
        )
    check_transition(Method(group.method), status, GroupStatus.COLLECTED)
    if group.code_attempts >= MAX_CODE_ATTEMPTS:
        raise Conflict(
            f"Too many wrong pickup codes for group {group_id}; check the customer's identity "
            "and the order number, then resend the code (POST …/resend-code).",
            code="pickup-code-locked",
        )
    assert group.pickup_code is not None
    if not pickup_code_matches(group.pickup_code, pickup_code):
        # nothing changes here; the caller counts the attempt in its own transaction
        raise WrongPickupCode(group_id, MAX_CODE_ATTEMPTS - group.code_attempts - 1)
    lines = _lines(uow, group)
    for reservation_id in _reservations(uow, lines):
        inventory.fulfil(uow, reservation_id, actor="hand-over")
    move(uow, order, group, GroupStatus.COLLECTED, lines=lines)
    return order


class WrongPickupCode(Conflict):
    def __init__(self, group_id: str, left: int) -> None:
        super().__init__(
            f"Wrong pickup code for group {group_id}; {left} attempt(s) left. The code is in the "
            "customer's 'ready for pickup' message.",
            code="wrong-pickup-code",
            field="pickup_code",
            attempts_left=left,
        )
        self.group_id = group_id


def count_wrong_code(uow: UnitOfWork, group_id: str) -> int:
    """Record a wrong code (after ``hand_over`` refused it); returns the attempts left."""
    order, group = load_group(uow, group_id)
    group.code_attempts += 1
    uow.emit(
        events.PickupCodeRejected(
            order_id=order.id,
            channel=order.channel,
            customer_id=order.customer_id,
            store_id=order.store_id,
            group_id=group.id,
            attempts=group.code_attempts,
        )
    )
    return MAX_CODE_ATTEMPTS - group.code_attempts


def resend_code(uow: UnitOfWork, group_id: str, *, acting_store: str | None = None) -> OrderRow:
    """A new code (after identity checks): the old one stops working, attempts reset."""
    order, group = load_group(uow, group_id, acting_store=acting_store)
    if group.status != GroupStatus.READY_FOR_PICKUP.value:
        raise Conflict(
            f"Group {group_id} is {group.status}; codes exist only while ready for pickup.",
            code="not-ready",
        )
    group.pickup_code = new_pickup_code()
    group.code_attempts = 0
    group.updated_at = uow.now()
    return order


def ship(
    uow: UnitOfWork,
    group_id: str,
    *,
    carrier: str | None = None,
    tracking_number: str | None = None,
    acting_store: str | None = None,
) -> OrderRow:
    order, group = load_group(uow, group_id, acting_store=acting_store)
    check_transition(Method(group.method), GroupStatus(group.status), GroupStatus.SHIPPED)
    lines = _lines(uow, group)
    for reservation_id in _reservations(uow, lines):
        inventory.fulfil(uow, reservation_id, actor="shipment")
    group.carrier = carrier
    group.tracking_number = tracking_number
    group.shipped_at = uow.now()
    move(uow, order, group, GroupStatus.SHIPPED, lines=lines)
    return order


def deliver(uow: UnitOfWork, group_id: str) -> OrderRow:
    order, group = load_group(uow, group_id)
    move(uow, order, group, GroupStatus.DELIVERED)
    return order


def _release_group(
    uow: UnitOfWork,
    order: OrderRow,
    group: FulfilmentGroupRow,
    target: GroupStatus,
    reason: str | None,
) -> None:
    check_transition(Method(group.method), GroupStatus(group.status), target)
    lines = _lines(uow, group)
    for reservation_id in _reservations(uow, lines):
        inventory.release(uow, reservation_id, actor=target.value)
    group.cancel_reason = reason
    move(uow, order, group, target, reason=reason, lines=lines)


def decline(uow: UnitOfWork, group_id: str, *, acting_store: str | None = None) -> OrderRow:
    """Reserve-and-try: the customer tried the items on and left them."""
    order, group = load_group(uow, group_id, acting_store=acting_store)
    _release_group(uow, order, group, GroupStatus.DECLINED, "tried on, not bought")
    return order


def cancel(
    uow: UnitOfWork,
    order_id: str,
    *,
    reason: str,
    group_ids: Sequence[str] | None = None,
    acting_store: str | None = None,
) -> OrderRow:
    """Cancel the whole order (or some groups): held units go back on sale at once."""
    if not reason or len(reason) > 300:
        raise InvalidInput("Say why the order is cancelled (1-300 characters).", field="reason")
    order = get_order(uow.session, order_id, lock=True)
    groups = list(
        uow.session.scalars(
            select(FulfilmentGroupRow)
            .where(FulfilmentGroupRow.order_id == order_id)
            .order_by(FulfilmentGroupRow.id)
        )
    )
    chosen = groups
    if group_ids:
        known = {g.id for g in groups}
        stray = sorted(set(group_ids) - known)
        if stray:
            raise InvalidInput(
                f"Group {stray[0]} is not part of order {order_id}.", field="group_ids"
            )
        chosen = [g for g in groups if g.id in set(group_ids)]
    if acting_store is not None and any(g.location_id != acting_store for g in chosen):
        raise Forbidden(
            "A store key cancels only groups its store serves.",
            code="wrong-store",
            store_id=acting_store,
        )
    live = [g for g in chosen if g.status != GroupStatus.CANCELLED.value]
    blocked = [g for g in live if GroupStatus(g.status) in _NOT_CANCELLABLE]
    if blocked:
        first = blocked[0]
        raise Conflict(
            f"Group {first.id} is already {first.status}; it can no longer be cancelled"
            + (
                " — take it back as a return instead."
                if first.status in {"collected", "delivered", "shipped"}
                else "."
            ),
            code="not-cancellable",
            group_id=first.id,
            status=first.status,
        )
    if not live:
        raise Conflict(f"Order {order_id} is already cancelled.", code="already-cancelled")
    for group in live:
        _release_group(uow, order, group, GroupStatus.CANCELLED, reason)
    return order


_NOT_CANCELLABLE = frozenset(
    {
        GroupStatus.SHIPPED,
        GroupStatus.COLLECTED,
        GroupStatus.DELIVERED,
        GroupStatus.DECLINED,
        GroupStatus.NO_SHOW,
    }
)


def sweep_no_shows(uow: UnitOfWork, *, limit: int = 200) -> int:
    """Release pickups not collected in time (and expired try-in-store holds)."""
    stmt = (
        select(FulfilmentGroupRow.id)
        .where(
            FulfilmentGroupRow.status == GroupStatus.READY_FOR_PICKUP.value,
            FulfilmentGroupRow.no_show_at <= uow.now(),
        )
        .order_by(FulfilmentGroupRow.no_show_at)
        .limit(limit)
    )
    due = list(uow.session.scalars(stmt))
    for group_id in due:
        no_show(uow, group_id)
    return len(due)


def no_show(uow: UnitOfWork, group_id: str, *, acting_store: str | None = None) -> OrderRow:
    order, group = load_group(uow, group_id, acting_store=acting_store)
    _release_group(uow, order, group, GroupStatus.NO_SHOW, "not collected in time")
    return order


def allocate_backorder(uow: UnitOfWork, group_id: str) -> OrderRow:
    """Route a back-ordered group again now that stock may have come in; all of it or nothing
    (a back-ordered group is never split after the fact)."""
    from omnicanal.orders.service import hold_group
    from omnicanal.orders.sourcing import decide, routing_config

    order, group = load_group(uow, group_id)
    check_transition(Method(group.method), GroupStatus(group.status), GroupStatus.ALLOCATED)
    lines = _lines(uow, group)
    wanted = {line.sku: line.quantity - line.quantity_cancelled for line in lines}
    destination = None
    address = order.shipping_address or {}
    if isinstance(address.get("latitude"), int | float):
        destination = (float(address["latitude"]), float(address["longitude"]))
    config = routing_config(uow.session)
    decision = decide(
        uow.session,
        method=Method(group.method),
        lines=wanted,
        channel=order.channel,
        now=uow.now(),
        config=replace(config, allow_split=False, allow_backorder=False),
        destination=destination,
        own_store_id=order.store_id,
    )
    if not decision.assignments:
        raise Conflict(
            f"Group {group_id} still cannot be served: {decision.reason}.",
            code="still-backordered",
            short=dict(decision.short),
        )
    (assignment,) = decision.assignments
    group.location_id = assignment.location_id
    group.allocated_on = uow.now().date().isoformat()
    group.routing = decision.explanation()
    held = hold_group(uow, group, dict(assignment.lines), channel=order.channel, actor=None)
    for line in lines:
        line.reservation_id = held.get(line.sku)
    move(uow, order, group, GroupStatus.ALLOCATED, lines=lines)
    return order
