"""Order capture: one use case for every channel (web, app, till, call centre, marketplace).

``place_order`` validates the lines against the catalogue, routes each requested group, holds the
stock at the chosen location through ``inventory.service.reserve`` (all or nothing, inside the
same transaction), records payment references and emits ``orders.order.placed``. Any error
leaves nothing behind: no order, no hold, no event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.inventory import service as inventory
from omnicanal.locations.tables import LocationRow
from omnicanal.orders import events
from omnicanal.orders.model import (
    GroupStatus,
    Method,
    check_line_quantity,
    derive_status,
)
from omnicanal.orders.pricing import PricedSku, apply_promotions, price_skus
from omnicanal.orders.routing import Decision
from omnicanal.orders.sourcing import decide, routing_config
from omnicanal.orders.tables import (
    FulfilmentGroupRow,
    OrderLineRow,
    OrderPaymentRow,
    OrderRow,
)
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money, check_currency
from omnicanal.storage.uow import UnitOfWork

PAYMENT_KINDS = ("authorised", "captured", "refunded", "voided")
PROMISE_HOURS = {"pickup": 2, "store": 24, "warehouse": 48}


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class GroupRequest:
    method: Method
    lines: Sequence[LineRequest]
    location_id: str | None = None  # pickup store, or a chosen ship-from-store location
    relay_point_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    kind: str
    provider: str
    reference: str
    amount: Money | None = None


@dataclass(frozen=True)
class OrderRequest:
    channel: str
    currency: str
    groups: Sequence[GroupRequest]
    store_id: str | None = None  # the selling store (tills, endless aisle)
    customer_id: str | None = None
    contact: dict[str, Any] = field(default_factory=dict)
    shipping_address: dict[str, Any] | None = None
    external_ref: str | None = None
    cart_id: str | None = None
    payment: PaymentRequest | None = None
    locale: str = "en"
    actor: str | None = None
    coupons: Sequence[str] = ()


@dataclass(frozen=True)
class Placed:
    order: OrderRow
    replayed: bool  # the channel already sent this external reference: nothing new was made


def _check_groups(request: OrderRequest) -> None:
    if not request.groups:
        raise InvalidInput("Give at least one line to order.", field="lines")
    if len(request.groups) > 10:
        raise InvalidInput("At most 10 fulfilment groups per order.", field="groups")
    for g, group in enumerate(request.groups):
        where = f"groups[{g}]"
        if not group.lines:
            raise InvalidInput("Each fulfilment group needs at least one line.", field=where)
        seen: set[str] = set()
        for i, line in enumerate(group.lines):
            check_line_quantity(line.quantity, field=f"{where}.lines[{i}].quantity")
            if line.sku in seen:
                raise InvalidInput(
                    f"SKU {line.sku} appears twice in one group; give one line with the total.",
                    field=f"{where}.lines[{i}].sku",
                )
            seen.add(line.sku)
        if group.method.is_pickup and not group.location_id:
            raise InvalidInput(
                f"A {group.method.value.replace('_', ' ')} order needs the pickup store: give "
                "location_id (stores near the customer: GET /v1/availability?capability=pickup).",
                field=f"{where}.location_id",
            )
        if group.method is Method.RELAY_POINT and not group.relay_point_id:
            raise InvalidInput(
                "A relay-point delivery needs relay_point_id (GET /v1/locations?kind=relay_point).",
                field=f"{where}.relay_point_id",
            )
        needs_address = group.method in {
            Method.HOME_DELIVERY,
            Method.SHIP_FROM_STORE,
            Method.ENDLESS_AISLE,
        }
        if needs_address and not request.shipping_address:
            raise InvalidInput(
                f"A {group.method.value.replace('_', ' ')} order needs a shipping_address.",
                field="shipping_address",
            )
        if group.method is Method.ENDLESS_AISLE and not request.store_id:
            raise InvalidInput(
                "An endless-aisle sale is made in a store: give store_id (a till key sets it).",
                field="store_id",
            )


def _destination(
    session: Session, request: OrderRequest, group: GroupRequest
) -> tuple[float, float] | None:
    if group.relay_point_id:
        relay = session.get(LocationRow, group.relay_point_id)
        if relay is None or relay.kind != "relay_point" or relay.status != "active":
            raise NotFound(
                f"No active relay point {group.relay_point_id}; list them with "
                "GET /v1/locations?kind=relay_point.",
                field="relay_point_id",
            )
        return (relay.latitude, relay.longitude)
    address = request.shipping_address or {}
    lat, lon = address.get("latitude"), address.get("longitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return (float(lat), float(lon))
    return None


def _unroutable(
    session: Session, group: GroupRequest, decision: Decision, *, channel: str, where: str
) -> Conflict:
    """A 409 that says what is wrong and where the basket can be had instead."""
    from omnicanal.orders.alternatives import alternatives_for

    lines = {line.sku: line.quantity for line in group.lines}
    instead = alternatives_for(session, group, lines, channel=channel, near=group.location_id)
    if group.location_id:
        note = next((c for c in decision.candidates if c.location_id == group.location_id), None)
        why = note.why if note and note.dropped_by else decision.reason
        if note is None:
            why = "it holds none of these items"
        short = (
            ", ".join(f"{sku} x {qty}" for sku, qty in decision.short.items())
            if decision.short
            else None
        )
        detail = (
            f"The chosen location cannot serve this {group.method.value.replace('_', ' ')}: {why}"
        )
        if short:
            detail += f" (missing {short})"
        detail += "."
        if instead:
            detail += " Stores that can: " + ", ".join(a["code"] for a in instead[:5]) + "."
        return Conflict(
            detail,
            code="location-cannot-fulfil",
            field=f"{where}.location_id",
            location_id=group.location_id,
            short=decision.short,
            alternatives=instead,
        )
    return Conflict(
        f"No location can serve this basket now: {decision.reason}"
        + (
            " (short: " + ", ".join(f"{s} x {q}" for s, q in decision.short.items()) + ")."
            if decision.short
            else "."
        ),
        code="no-stock",
        short=decision.short,
        alternatives=instead,
    )


def place_order(uow: UnitOfWork, request: OrderRequest) -> Placed:
    session = uow.session
    currency = check_currency(request.currency)
    order_id = new_id("ord")
    if request.external_ref:
        existing = session.scalars(
            select(OrderRow).where(
                OrderRow.channel == request.channel,
                OrderRow.external_ref == request.external_ref,
            )
        ).first()
        if existing is not None:
            return Placed(existing, replayed=True)
    if request.cart_id:
        request = _from_cart(uow, request, order_id)
    _check_groups(request)
    customer_id = request.customer_id
    if customer_id:
        from omnicanal.customers.service import resolve_live

        customer_id = resolve_live(session, customer_id).id
    all_skus = sorted({line.sku for g in request.groups for line in g.lines})
    now = uow.now()
    priced = price_skus(
        session,
        all_skus,
        currency=currency,
        channel=request.channel,
        store_id=request.store_id,
        store_bound=request.store_id is not None,
        at=now,
    )
    config = routing_config(session)
    order = OrderRow(
        id=order_id,
        channel=request.channel,
        store_id=request.store_id,
        customer_id=customer_id,
        external_ref=request.external_ref,
        cart_id=request.cart_id,
        currency=currency,
        subtotal_minor=0,
        total_minor=0,
        status="placed",
        status_partial=False,
        locale=request.locale,
        contact=dict(request.contact),
        shipping_address=request.shipping_address,
        routing={},
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    groups: list[FulfilmentGroupRow] = []
    lines: list[OrderLineRow] = []
    figures = {"brokered": False, "split": False, "first_rule": True, "groups": 0}
    for g, group in enumerate(request.groups):
        wanted = {line.sku: line.quantity for line in group.lines}
        decision = decide(
            session,
            method=group.method,
            lines=wanted,
            channel=request.channel,
            now=now,
            config=config,
            location_id=group.location_id,
            destination=_destination(session, request, group),
            own_store_id=request.store_id,
        )
        if not decision.routed and decision.rule != "backorder":
            raise _unroutable(
                session, group, decision, channel=request.channel, where=f"groups[{g}]"
            )
        if group.location_id is None:
            figures["brokered"] = True
            figures["first_rule"] = bool(figures["first_rule"]) and (
                decision.rule == "single_location"
            )
        figures["split"] = bool(figures["split"]) or decision.split
        parts = decision.assignments or ()
        if not parts:
            made = _new_group(order_id, group, None, decision, now, GroupStatus.BACKORDERED)
            groups.append(made)
            session.add(made)
            lines.extend(_lines(order_id, made.id, wanted, priced, {}))
            continue
        for part in parts:
            made = _new_group(
                order_id, group, part.location_id, decision, now, GroupStatus.ALLOCATED
            )
            made.promised_by = now + timedelta(
                hours=_promise_hours(group.method, decision, part.location_id)
            )
            groups.append(made)
            session.add(made)
            session.flush()
            held = hold_group(
                uow, made, dict(part.lines), channel=request.channel, actor=request.actor
            )
            lines.extend(_lines(order_id, made.id, dict(part.lines), priced, held))
    session.add_all(lines)
    figures["groups"] = len(groups)
    subtotal = sum(line.unit_price_minor * line.quantity for line in lines)
    promoted = apply_promotions(
        uow, order=order, lines=lines, priced=priced, coupons=request.coupons, at=now
    )
    order.subtotal_minor = subtotal
    order.discount_minor = promoted.discount_minor
    order.total_minor = subtotal - promoted.discount_minor
    order.bonus_points = promoted.bonus_points
    order.promotions = promoted.applied
    derived = derive_status(GroupStatus(g.status) for g in groups)
    order.status = derived.status.value
    order.status_partial = derived.partial
    order.routing = figures
    if request.payment:
        record_payment(uow, order, request.payment, emit=False, new_order=True)
    total = Money(order.total_minor, currency)
    uow.emit(
        events.OrderPlaced(
            order_id=order_id,
            channel=request.channel,
            customer_id=customer_id,
            store_id=request.store_id,
            external_ref=request.external_ref,
            currency=currency,
            total=str(total.amount),
            total_minor=order.total_minor,
            discount_minor=order.discount_minor,
            bonus_points=order.bonus_points,
            promotions=[p["promotion_id"] for p in order.promotions],
            cart_id=order.cart_id,
            status=order.status,
            lines=[
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price_minor": line.unit_price_minor,
                    "discount_minor": line.discount_minor,
                    "group_id": line.group_id,
                }
                for line in lines
            ],
            groups=[
                {
                    "group_id": g.id,
                    "method": g.method,
                    "location_id": g.location_id,
                    "status": g.status,
                }
                for g in groups
            ],
            routing=figures,
        )
    )
    return Placed(order, replayed=False)


def _from_cart(uow: UnitOfWork, request: OrderRequest, order_id: str) -> OrderRequest:
    """Order the cart's lines (unless lines were given): the cart closes and hands its holds
    over to the order within this transaction."""
    from dataclasses import replace

    from omnicanal.carts.service import Actor, check_out

    assert request.cart_id is not None
    out = check_out(
        uow,
        request.cart_id,
        order_id=order_id,
        actor=Actor(request.channel, request.store_id, request.actor),
        customer_id=request.customer_id,
    )
    groups = [
        g if g.lines else replace(g, lines=[LineRequest(sku, qty) for sku, qty in out.lines])
        for g in request.groups
    ]
    return replace(request, groups=groups, customer_id=request.customer_id or out.profile_id)


def _promise_hours(method: Method, decision: Decision, location_id: str) -> int:
    if method.is_pickup:
        return PROMISE_HOURS["pickup"]
    note = next((c for c in decision.candidates if c.location_id == location_id), None)
    return PROMISE_HOURS["warehouse" if note and note.kind == "warehouse" else "store"]


def _new_group(
    order_id: str,
    request: GroupRequest,
    location_id: str | None,
    decision: Decision,
    now: datetime,
    status: GroupStatus,
) -> FulfilmentGroupRow:
    return FulfilmentGroupRow(
        id=new_id("ful"),
        order_id=order_id,
        method=request.method.value,
        status=status.value,
        location_id=location_id,
        relay_point_id=request.relay_point_id,
        allocated_on=now.date().isoformat() if location_id else None,
        code_attempts=0,
        routing=decision.explanation(),
        created_at=now,
        updated_at=now,
    )


def hold_group(
    uow: UnitOfWork,
    group: FulfilmentGroupRow,
    lines: dict[str, int],
    *,
    channel: str,
    actor: str | None,
) -> dict[str, str]:
    """Reserve at the group's location; returns sku → reservation id."""
    trying = group.method == Method.RESERVE_AND_TRY.value
    assert group.location_id is not None
    reservations = inventory.reserve(
        uow,
        owner_type="try_in_store" if trying else "order",
        owner_id=group.id,
        location_id=group.location_id,
        lines=[inventory.Line(sku, qty) for sku, qty in sorted(lines.items())],
        ttl_minutes=routing_config(uow.session).try_in_store_hours * 60 if trying else None,
        channel=channel,
        actor=actor,
    )
    return {r.sku: r.id for r in reservations}


def _lines(
    order_id: str,
    group_id: str,
    wanted: dict[str, int],
    priced: dict[str, PricedSku],
    held: dict[str, str],
) -> list[OrderLineRow]:
    return [
        OrderLineRow(
            id=new_id("orl"),
            order_id=order_id,
            group_id=group_id,
            sku=sku,
            title=priced[sku].title,
            quantity=qty,
            quantity_cancelled=0,
            unit_price_minor=priced[sku].unit_price_minor,
            discount_minor=0,
            reservation_id=held.get(sku),
        )
        for sku, qty in sorted(wanted.items())
    ]


def record_payment(
    uow: UnitOfWork,
    order: OrderRow,
    payment: PaymentRequest,
    *,
    emit: bool = True,
    new_order: bool = False,
) -> OrderPaymentRow:
    if payment.kind not in PAYMENT_KINDS:
        raise InvalidInput(
            f"payment kind is one of {', '.join(PAYMENT_KINDS)}.", field="payment.kind"
        )
    if not payment.provider or not payment.reference:
        raise InvalidInput(
            "A payment needs the provider and its reference (never card data).",
            field="payment.reference",
        )
    if len(payment.reference) > 200 or _looks_like_card(payment.reference):
        raise InvalidInput(
            "payment.reference must be the provider's reference, never a card number.",
            field="payment.reference",
        )
    amount = payment.amount or Money(order.total_minor, order.currency)
    if amount.currency != order.currency:
        raise InvalidInput(
            f"The payment is in {amount.currency}, the order in {order.currency}.",
            field="payment.currency",
        )
    if not new_order:  # an order placed in this very transaction has no payment to repeat
        existing = uow.session.scalars(
            select(OrderPaymentRow).where(
                OrderPaymentRow.order_id == order.id,
                OrderPaymentRow.kind == payment.kind,
                OrderPaymentRow.reference == payment.reference,
            )
        ).first()
        if existing is not None:
            return existing  # the PSP notification came twice: recorded once
    row = OrderPaymentRow(
        id=new_id("pay"),
        order_id=order.id,
        kind=payment.kind,
        provider=payment.provider,
        reference=payment.reference,
        amount_minor=amount.minor,
        currency=amount.currency,
        created_at=uow.now(),
    )
    uow.session.add(row)
    if emit:
        uow.emit(
            events.PaymentRecorded(
                order_id=order.id,
                channel=order.channel,
                customer_id=order.customer_id,
                store_id=order.store_id,
                payment_id=row.id,
                kind=row.kind,
                provider=row.provider,
                reference=row.reference,
                amount=str(amount.amount),
                currency=amount.currency,
            )
        )
    return row


def _looks_like_card(reference: str) -> bool:
    digits = "".join(ch for ch in reference if ch.isdigit())
    if not 13 <= len(digits) <= 19 or len(digits) < len(
        reference.replace(" ", "").replace("-", "")
    ):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):  # Luhn: a valid card number is refused
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def get_order(session: Session, order_id: str, *, lock: bool = False) -> OrderRow:
    stmt = select(OrderRow).where(OrderRow.id == order_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalars(stmt.execution_options(populate_existing=lock)).first()
    if row is None:
        raise NotFound(
            f"No order {order_id}; find orders with GET /v1/orders?customer_id=|external_ref=.",
            code="order-not-found",
            field="order_id",
            order_id=order_id,
        )
    return row
