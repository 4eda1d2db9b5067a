"""/v1/orders: one order management system for every channel; store operations on groups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.auth.model import Principal
from omnicanal.orders import config as routing_settings
from omnicanal.orders import fulfilment, service, views
from omnicanal.orders.model import Method, OrderStatus
from omnicanal.orders.tables import FulfilmentGroupRow, OrderRow
from omnicanal.orders.wording import pick_locale
from omnicanal.shared.errors import Forbidden, InvalidInput
from omnicanal.shared.money import Money
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.paging import keyset_page
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["orders"])

ReadKey = Annotated[Principal, Depends(require("orders:read"))]
OrderWrite = Annotated[Write, Depends(writer("orders:write"))]
FulfilWrite = Annotated[Write, Depends(writer("orders:fulfil"))]
Lang = Annotated[
    str | None,
    Header(alias="Accept-Language", description="en or fr: the language of status_text."),
]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64, examples=["RUN-00000-BLA-42"])
    quantity: StrictInt = Field(gt=0, le=999)


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Method
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    location_id: str | None = Field(
        default=None, description="Pickup store, or the store a ship-from-store leaves from."
    )
    relay_point_id: str | None = None


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=300)
    line2: str | None = Field(default=None, max_length=300)
    postcode: str = Field(min_length=1, max_length=20)
    city: str = Field(min_length=1, max_length=120)
    country: str = Field(min_length=2, max_length=2, examples=["FR"])
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=200)


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(examples=["authorised"], description="authorised, captured, refunded, voided")
    provider: str = Field(min_length=1, max_length=60, examples=["adyen"])
    reference: str = Field(
        min_length=1, max_length=200, description="The PSP's reference; never card data."
    )
    amount: str | None = Field(
        default=None, description="Decimal string; the order total if absent."
    )


class OrderCreate(BaseModel):
    """One group (``method`` + ``lines``, the usual case) or several (``groups``)."""

    model_config = ConfigDict(extra="forbid")
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    method: Method | None = None
    lines: list[LineIn] | None = Field(default=None, max_length=100)
    location_id: str | None = None
    relay_point_id: str | None = None
    groups: list[GroupIn] | None = Field(default=None, max_length=10)
    cart_id: str | None = Field(
        default=None, description="Order the cart's lines (instead of giving lines)."
    )
    customer_id: str | None = Field(default=None, max_length=40)
    contact: ContactIn | None = None
    shipping_address: AddressIn | None = None
    external_ref: str | None = Field(
        default=None,
        max_length=100,
        description="Your own order number: the same one twice returns the first order.",
    )
    payment: PaymentIn | None = None
    store_id: str | None = Field(default=None, description="The selling store (tills set it).")
    coupons: list[str] = Field(
        default_factory=list, max_length=5, description="Coupon codes the customer entered."
    )
    locale: str = Field(default="en", max_length=5)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300)
    group_ids: list[str] | None = None


class ReadyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    picked: dict[str, StrictInt] | None = Field(
        default=None, description="Units found per SKU when fewer than ordered."
    )


class HandOverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pickup_code: str = Field(min_length=1, max_length=20)


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: str | None = Field(default=None, max_length=60)
    tracking_number: str | None = Field(default=None, max_length=100)


def _groups(body: OrderCreate, *, from_cart: bool) -> list[service.GroupRequest]:
    if body.groups:
        if body.method or body.lines:
            raise InvalidInput(
                "Give either method + lines (one group) or groups, not both.", field="groups"
            )
        return [
            service.GroupRequest(
                method=g.method,
                lines=[service.LineRequest(line.sku, line.quantity) for line in g.lines],
                location_id=g.location_id,
                relay_point_id=g.relay_point_id,
            )
            for g in body.groups
        ]
    if body.method is None:
        raise InvalidInput(
            "Say how the order is fulfilled: method (e.g. click_and_collect, home_delivery).",
            field="method",
        )
    lines = [service.LineRequest(line.sku, line.quantity) for line in body.lines or []]
    if not lines and not from_cart:
        raise InvalidInput("Give the lines to order, or a cart_id.", field="lines")
    return [
        service.GroupRequest(
            method=body.method,
            lines=lines,
            location_id=body.location_id,
            relay_point_id=body.relay_point_id,
        )
    ]


def _one(db: DbDep, order_id: str, locale: str, *, with_codes: bool) -> dict[str, Any]:
    with db.read() as session:
        order = service.get_order(session, order_id)
        return views.order_views(session, [order], locale=locale, with_codes=with_codes)[0]


@router.post("/orders", status_code=201, summary="Place an order from any channel")
def place_order(body: OrderCreate, write: OrderWrite, lang: Lang = None) -> object:
    """Lines are priced from the catalogue; each group is routed and its stock held at once, all
    or nothing. A pickup store without the stock is a 409 naming the stores that have it."""
    principal = write.principal
    store_id = principal.store_id or body.store_id
    if principal.store_id and body.store_id and body.store_id != principal.store_id:
        check_store(principal, body.store_id)
    locale = pick_locale(body.locale if body.locale != "en" else lang)
    amount = None
    if body.payment and body.payment.amount is not None:
        amount = Money.of(body.payment.amount, body.currency, field="payment.amount")

    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        placed = service.place_order(
            uow,
            service.OrderRequest(
                channel=principal.channel.value,
                currency=body.currency,
                groups=_groups(body, from_cart=body.cart_id is not None),
                store_id=store_id,
                customer_id=body.customer_id,
                contact=body.contact.model_dump(exclude_none=True) if body.contact else {},
                shipping_address=(
                    body.shipping_address.model_dump(exclude_none=True)
                    if body.shipping_address
                    else None
                ),
                external_ref=body.external_ref,
                cart_id=body.cart_id,
                payment=(
                    service.PaymentRequest(
                        body.payment.kind, body.payment.provider, body.payment.reference, amount
                    )
                    if body.payment
                    else None
                ),
                locale=locale,
                actor=principal.key_id,
                coupons=body.coupons,
            ),
        )
        uow.session.flush()
        view = views.order_views(uow.session, [placed.order], locale=locale)[0]
        view["replayed"] = placed.replayed
        return view

    return write.run(use_case, status_code=201)


@router.get("/orders", summary="Find orders")
def list_orders(
    db: DbDep,
    _: ReadKey,
    customer_id: str | None = None,
    channel: str | None = None,
    status: OrderStatus | None = None,
    external_ref: str | None = None,
    store_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    lang: Lang = None,
) -> object:
    stmt = select(OrderRow)
    if customer_id:
        stmt = stmt.where(OrderRow.customer_id == customer_id)
    if channel:
        stmt = stmt.where(OrderRow.channel == channel)
    if status:
        stmt = stmt.where(OrderRow.status == status.value)
    if external_ref:
        stmt = stmt.where(OrderRow.external_ref == external_ref)
    if store_id:
        stmt = stmt.where(OrderRow.store_id == store_id)
    with db.read() as session:
        rows, next_cursor = keyset_page(
            session, stmt, order_by=[OrderRow.id], cursor=cursor, limit=limit
        )
        data = views.order_views(session, rows, locale=pick_locale(lang))
    return {"data": data, "next_cursor": next_cursor}


@router.get("/orders/{order_id}", summary="One order, as every channel sees it")
def get_order(order_id: str, db: DbDep, principal: ReadKey, lang: Lang = None) -> object:
    return _one(db, order_id, pick_locale(lang), with_codes=principal.has_scope("orders:fulfil"))


@router.get("/orders/{order_id}/timeline", summary="The order's history, from its events")
def order_timeline(order_id: str, db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        service.get_order(session, order_id)
        return {"data": views.timeline(session, order_id)}


@router.post("/orders/{order_id}/cancel", summary="Cancel an order or some of its groups")
def cancel_order(order_id: str, body: CancelIn, write: OrderWrite) -> object:
    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        order = fulfilment.cancel(
            uow,
            order_id,
            reason=body.reason,
            group_ids=body.group_ids,
            acting_store=write.principal.store_id,
        )
        uow.session.flush()
        return views.order_views(uow.session, [order])[0]

    return write.run(use_case)


@router.post("/orders/{order_id}/payments", status_code=201, summary="Record a payment reference")
def record_payment(order_id: str, body: PaymentIn, write: OrderWrite) -> object:
    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        order = service.get_order(uow.session, order_id, lock=True)
        amount = Money.of(body.amount, order.currency) if body.amount else None
        service.record_payment(
            uow, order, service.PaymentRequest(body.kind, body.provider, body.reference, amount)
        )
        uow.session.flush()
        return views.order_views(uow.session, [order])[0]

    return write.run(use_case, status_code=201)


# -- store operations on fulfilment groups ---------------------------------------------------
def _group_action(write: Write, action: Any) -> JSONResponse:
    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        order = action(uow, write.principal.store_id)
        uow.session.flush()
        return views.order_views(uow.session, [order], with_codes=True)[0]

    return write.run(use_case)


@router.post("/fulfilment-groups/{group_id}/picking", summary="Start preparing a group")
def start_picking(group_id: str, write: FulfilWrite) -> object:
    return _group_action(
        write, lambda uow, store: fulfilment.start_picking(uow, group_id, acting_store=store)
    )


@router.post("/fulfilment-groups/{group_id}/ready", summary="Ready for pickup: makes the code")
def mark_ready(group_id: str, write: FulfilWrite, body: ReadyIn | None = None) -> object:
    picked = body.picked if body else None
    return _group_action(
        write,
        lambda uow, store: fulfilment.mark_ready(uow, group_id, picked=picked, acting_store=store),
    )


@router.post("/fulfilment-groups/{group_id}/hand-over", summary="Hand over with the pickup code")
def hand_over(group_id: str, body: HandOverIn, write: FulfilWrite) -> object:
    try:
        return _group_action(
            write,
            lambda uow, store: fulfilment.hand_over(
                uow, group_id, pickup_code=body.pickup_code, acting_store=store
            ),
        )
    except fulfilment.WrongPickupCode as wrong:
        with write.db.uow() as uow:  # the attempt counts even though the hand-over failed
            left = fulfilment.count_wrong_code(uow, group_id)
        raise fulfilment.WrongPickupCode(group_id, left) from wrong


@router.post("/fulfilment-groups/{group_id}/resend-code", summary="A new pickup code")
def resend_code(group_id: str, write: FulfilWrite) -> object:
    return _group_action(
        write, lambda uow, store: fulfilment.resend_code(uow, group_id, acting_store=store)
    )


@router.post("/fulfilment-groups/{group_id}/ship", summary="The parcel left")
def ship(group_id: str, write: FulfilWrite, body: ShipIn | None = None) -> object:
    carrier = body.carrier if body else None
    tracking = body.tracking_number if body else None
    return _group_action(
        write,
        lambda uow, store: fulfilment.ship(
            uow, group_id, carrier=carrier, tracking_number=tracking, acting_store=store
        ),
    )


def _at_own_store(uow: UnitOfWork, principal: Principal, group_id: str) -> None:
    """Allocate and deliver take no acting store: a store-bound key acts on its store's groups,
    and routes a back-order not yet at any location only when its own store took the order."""
    group = uow.session.get(FulfilmentGroupRow, group_id)
    if group is None or principal.store_id is None:
        return
    if group.location_id is not None:
        check_store(principal, group.location_id)
        return
    order = uow.session.get(OrderRow, group.order_id)
    if order is None or order.store_id != principal.store_id:
        raise Forbidden(
            f"This key is bound to store {principal.store_id}; the back-order {group_id} was "
            "not taken at that store, so head office or the channel that took it routes it.",
            code="wrong-store",
            store_id=principal.store_id,
        )


@router.post("/fulfilment-groups/{group_id}/allocate", summary="Route a back-order again")
def allocate(group_id: str, write: FulfilWrite) -> object:
    def action(uow: UnitOfWork, _store: str | None) -> OrderRow:
        _at_own_store(uow, write.principal, group_id)
        return fulfilment.allocate_backorder(uow, group_id)

    return _group_action(write, action)


@router.post("/fulfilment-groups/{group_id}/deliver", summary="Delivered (carrier confirmation)")
def deliver(group_id: str, write: FulfilWrite) -> object:
    def action(uow: UnitOfWork, _store: str | None) -> OrderRow:
        _at_own_store(uow, write.principal, group_id)
        return fulfilment.deliver(uow, group_id)

    return _group_action(write, action)


@router.post("/fulfilment-groups/{group_id}/decline", summary="Reserve-and-try: not bought")
def decline(group_id: str, write: FulfilWrite) -> object:
    return _group_action(
        write, lambda uow, store: fulfilment.decline(uow, group_id, acting_store=store)
    )


@router.post("/fulfilment-groups/{group_id}/no-show", summary="Release an uncollected pickup")
def no_show(group_id: str, write: FulfilWrite) -> object:
    return _group_action(
        write, lambda uow, store: fulfilment.no_show(uow, group_id, acting_store=store)
    )


@router.get("/locations/{location_id}/pick-list", summary="What a store has to prepare")
def pick_list(
    location_id: str, db: DbDep, principal: Annotated[Principal, Depends(require("orders:fulfil"))]
) -> object:
    check_store(principal, location_id)
    with db.read() as session:
        return {"data": views.pick_list(session, location_id)}


@router.get("/locations/{location_id}/pickups", summary="Orders waiting at the counter")
def pickups(
    location_id: str, db: DbDep, principal: Annotated[Principal, Depends(require("orders:fulfil"))]
) -> object:
    check_store(principal, location_id)
    with db.read() as session:
        return {"data": views.pickup_queue(session, location_id)}


# -- routing -----------------------------------------------------------------------------------
class RoutingConfigOut(BaseModel):
    version: int
    settings: dict[str, Any]


@router.get("/routing/config", response_model=RoutingConfigOut, tags=["routing"])
def get_routing_config(db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        config, version = routing_settings.current(session)
    return RoutingConfigOut(version=version, settings=config.as_dict())


@router.put("/routing/config", response_model=RoutingConfigOut, tags=["routing"])
def put_routing_config(
    body: dict[str, Any], write: Annotated[Write, Depends(writer("routing:manage"))]
) -> object:
    """Replace the routing settings (unknown or invalid settings are refused, nothing saved)."""

    def use_case(uow: UnitOfWork) -> RoutingConfigOut:
        config, version = routing_settings.replace_config(uow, body)
        return RoutingConfigOut(version=version, settings=config.as_dict())

    return write.run(use_case)


@router.get("/routing/metrics", tags=["routing"], summary="Brokered, split, first-rule, SLA")
def routing_metrics(
    db: DbDep,
    _: ReadKey,
    since: Annotated[datetime | None, Query(description="UTC, ISO 8601")] = None,
    until: Annotated[datetime | None, Query(description="UTC, ISO 8601")] = None,
) -> object:
    with db.read() as session:
        return views.routing_figures(session, since=since, until=until)
