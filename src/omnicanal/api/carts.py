"""/v1/carts: a cart that follows the customer across devices and into the store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from omnicanal.api.deps import DbDep, SettingsDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.carts import service, views
from omnicanal.carts.model import (
    DEFAULT_HANDOFF_TTL_MINUTES,
    MAX_HANDOFF_TTL_MINUTES,
    MAX_LINE_QUANTITY,
    check_owner,
    format_handoff_code,
)
from omnicanal.carts.service import Actor
from omnicanal.carts.tables import CartHandoffRow, CartRow
from omnicanal.customers import service as customers
from omnicanal.customers.model import normalise_identifiers
from omnicanal.shared.errors import Forbidden, InvalidInput
from omnicanal.shared.money import Money, check_currency, exponent
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(prefix="/carts", tags=["carts"])

ReadKey = Annotated[Principal, Depends(require("carts:read"))]
CartWrite = Annotated[Write, Depends(writer("carts:write"))]
Quantity = Annotated[
    StrictInt, Field(gt=0, le=MAX_LINE_QUANTITY, description="A positive whole number of units.")
]
CustomerId = Annotated[
    str | None,
    Field(
        default=None,
        max_length=40,
        description="The signed-in customer the channel acts for: the cart must be theirs.",
        examples=["cus_01J…"],
    ),
]
ActingQuery = Annotated[
    str | None,
    Query(description="The signed-in customer the channel acts for: the cart must be theirs."),
]


# -- schemas ------------------------------------------------------------------------------------
class MoneyOut(BaseModel):
    amount: str = Field(examples=["19.99"], description="A decimal string, never a float.")
    currency: str = Field(examples=["EUR"])


class CartCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(default="EUR", min_length=3, max_length=3, examples=["EUR"])
    customer_id: CustomerId = None
    anonymous_token: str | None = Field(
        default=None,
        max_length=128,
        description="The session's token (16-128 URL-safe characters) for a customer not yet "
        "identified; omit both it and customer_id to get a new one.",
    )
    pickup_location_id: str | None = Field(
        default=None, max_length=40, description="Click & collect at this store."
    )


class LineAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64, examples=["RUN-00000-BLA-42"])
    quantity: Quantity = 1
    customer_id: CustomerId = None


class LineUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: Quantity
    customer_id: CustomerId = None


class IdentifierIn(BaseModel):
    kind: str = Field(max_length=60, examples=["email"])
    value: str = Field(min_length=1, max_length=320, examples=["zoe.martin@example.fr"])


class CustomerAttach(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId = None
    identifiers: list[IdentifierIn] | None = Field(
        default=None,
        min_length=1,
        max_length=customers.MAX_IDENTIFIERS,
        description="Identify the customer in the same call (as POST /v1/customers/identify); "
        "needs the customers:write scope.",
    )
    phone_region: str = Field(default="FR", pattern=r"^[A-Z]{2}$")


class PickupChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str | None = Field(max_length=40, description="null: back to home delivery.")
    customer_id: CustomerId = None


class ActingFor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId = None


class HandoffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_minutes: Annotated[StrictInt, Field(ge=1, le=MAX_HANDOFF_TTL_MINUTES)] = (
        DEFAULT_HANDOFF_TTL_MINUTES
    )


class HandoffClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId = None
    anonymous_token: str | None = Field(
        default=None, max_length=128, description="The phone's session when not signed in."
    )


class HoldPublic(BaseModel):
    reservation_id: str
    location_id: str
    quantity: int
    status: str = Field(description="active, expired, released or fulfilled")
    expires_at: datetime | None


class CartLinePublic(BaseModel):
    id: str
    sku: str
    title: str | None
    quantity: int
    unit_price: MoneyOut | None = Field(description="Today's price; null: no longer priced.")
    line_total: MoneyOut | None
    price_at_add: MoneyOut | None
    price_changed: bool = Field(description="The price differs from when it was added.")
    sellable_on_channel: bool = Field(
        description="False when the reading channel may not sell it (a store-only item online)."
    )
    added_channel: str
    added_store_id: str | None
    added_at: datetime
    changed_channel: str
    changed_store_id: str | None
    updated_at: datetime
    hold: HoldPublic | None = Field(description="Stock held for this line, if any.")


class AppliedPromotion(BaseModel):
    promotion_id: str
    name: str
    discount: MoneyOut
    bonus_points: int
    coupon: str | None


class CartPublic(BaseModel):
    id: str
    status: str
    customer_id: str | None
    anonymous_token: str | None
    currency: str
    channel: str = Field(description="The channel that opened the cart.")
    store_id: str | None
    pickup_location_id: str | None
    version: int = Field(description="Goes up by one on every change.")
    lines: list[CartLinePublic]
    item_count: int
    subtotal: MoneyOut = Field(description="Sum of the priced lines at today's prices.")
    unpriced_skus: list[str]
    discount: MoneyOut = Field(description="What the promotions take off (the order's rules).")
    total: MoneyOut = Field(description="Subtotal minus the promotions' discount.")
    promotions: list[AppliedPromotion] = Field(
        default_factory=list, description="Promotions that apply now, with what each gives."
    )
    priced_at: datetime
    resolved_from: str | None = Field(
        default=None, description="The cart id asked for, when it was merged into this one."
    )
    created_at: datetime
    updated_at: datetime


class HandoffPublic(BaseModel):
    id: str
    cart_id: str
    code: str = Field(examples=["K7Q2-M9XD"], description="Single use, until expires_at.")
    link: str
    status: str
    expires_at: datetime


# -- mapping ------------------------------------------------------------------------------------
def _money(value: Money | None) -> MoneyOut | None:
    if value is None:
        return None
    return MoneyOut(amount=f"{value.amount:.{exponent(value.currency)}f}", currency=value.currency)


def _public(view: views.CartView) -> CartPublic:
    cart = view.cart
    subtotal = _money(view.priced.subtotal)
    assert subtotal is not None
    promo = view.promotions
    discount = Money(promo.discount_minor if promo else 0, cart.currency)
    applied = [
        AppliedPromotion(
            promotion_id=a.promotion_id,
            name=a.name,
            discount=_money(Money(a.discount_minor, cart.currency)),
            bonus_points=a.bonus_points,
            coupon=a.coupon,
        )
        for a in (promo.applied if promo else ())
    ]
    return CartPublic(
        id=cart.id,
        status=cart.status,
        customer_id=cart.profile_id,
        anonymous_token=cart.anonymous_token,
        currency=cart.currency,
        channel=cart.channel,
        store_id=cart.store_id,
        pickup_location_id=cart.pickup_location_id,
        version=cart.version,
        lines=[
            CartLinePublic(
                id=line.row.id,
                sku=line.row.sku,
                title=line.title,
                quantity=line.row.quantity,
                unit_price=_money(line.priced.unit_price),
                line_total=_money(line.priced.total),
                price_at_add=_money(line.priced.price_at_add),
                price_changed=line.priced.price_changed,
                sellable_on_channel=line.sellable_on_channel,
                added_channel=line.row.added_channel,
                added_store_id=line.row.added_store_id,
                added_at=line.row.added_at,
                changed_channel=line.row.changed_channel,
                changed_store_id=line.row.changed_store_id,
                updated_at=line.row.updated_at,
                hold=HoldPublic(
                    reservation_id=line.hold.reservation_id,
                    location_id=line.hold.location_id,
                    quantity=line.hold.quantity,
                    status=line.hold.status,
                    expires_at=line.hold.expires_at,
                )
                if line.hold
                else None,
            )
            for line in view.lines
        ],
        item_count=view.priced.item_count,
        subtotal=subtotal,
        unpriced_skus=view.priced.unpriced_skus,
        discount=_money(discount),
        total=_money(view.priced.subtotal - discount),
        promotions=applied,
        priced_at=view.priced_at,
        resolved_from=view.resolved_from,
        created_at=cart.created_at,
        updated_at=cart.updated_at,
    )


def _actor(principal: Principal) -> Actor:
    return Actor(
        channel=principal.channel.value, store_id=principal.store_id, key_id=principal.key_id
    )


def _priced(uow: UnitOfWork, cart: CartRow, principal: Principal) -> CartPublic:
    uow.session.flush()
    return _public(
        views.cart_view(
            uow.session,
            cart,
            now=uow.now(),
            channel=principal.channel.value,
            store_bound=principal.store_id is not None,
        )
    )


def _handoff(row: CartHandoffRow, base_url: str) -> HandoffPublic:
    return HandoffPublic(
        id=row.id,
        cart_id=row.cart_id,
        code=format_handoff_code(row.code),
        link=f"{base_url.rstrip('/')}/h/{row.code}",
        status=row.status,
        expires_at=row.expires_at,
    )


# -- reads --------------------------------------------------------------------------------------
@router.get("", response_model=Page[CartPublic], summary="Find a customer's open carts")
def find_carts(
    db: DbDep,
    principal: ReadKey,
    customer: Annotated[str | None, Query(description="A customer id (cus_…).")] = None,
    phone: Annotated[str | None, Query(description="Any form; French national by default.")] = None,
    email: Annotated[str | None, Query(description="Exact email (any case).")] = None,
    card: Annotated[str | None, Query(description="Loyalty card number.")] = None,
    token: Annotated[str | None, Query(description="An anonymous session's token.")] = None,
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
) -> object:
    """The open carts of a customer, by id, or by what an associate types: phone, email or
    loyalty card (needs customers:read too). One cart per currency."""
    code = check_currency(currency) if currency else None
    by_identifier = phone is not None or email is not None or card is not None
    if sum((customer is not None, by_identifier, token is not None)) != 1:
        raise InvalidInput(
            "Give exactly one of customer, token, or phone/email/card: carts are not listed whole.",
            field="customer",
        )
    if by_identifier and not principal.has_scope("customers:read"):
        raise Forbidden(
            "Finding a cart by phone, email or card searches customers: the key needs the "
            "customers:read scope.",
            code="missing-scope",
            required_scope="customers:read",
        )
    with db.read() as session:
        if customer is not None:
            carts = views.carts_of_customer(session, customer, currency=code)
        elif token is not None:
            carts = views.carts_of_token(session, token, currency=code)
        else:
            carts = views.carts_by_identifier(
                session, email=email, phone=phone, card=card, currency=code
            )
        found = views.cart_views(
            session,
            carts,
            now=db.clock.now(),
            channel=principal.channel.value,
            store_bound=principal.store_id is not None,
        )
    return Page[CartPublic](data=[_public(v) for v in found], next_cursor=None)


@router.get("/{cart_id}", response_model=CartPublic, summary="A cart, priced now")
def get_cart(
    cart_id: str, db: DbDep, principal: ReadKey, customer_id: ActingQuery = None
) -> object:
    """Priced at today's prices. A cart merged into another answers with that one
    (``resolved_from`` says so)."""
    with db.read() as session:
        cart, resolved_from = views.find_cart(session, cart_id)
        if customer_id is not None:
            acting = customers.resolve_live(session, customer_id).id
            check_owner(cart.id, cart.profile_id, acting)
        view = views.cart_view(
            session,
            cart,
            now=db.clock.now(),
            channel=principal.channel.value,
            store_bound=principal.store_id is not None,
            resolved_from=resolved_from,
        )
    return _public(view)


# -- writes -------------------------------------------------------------------------------------
@router.post("", status_code=201, response_model=CartPublic, summary="Open the customer's cart")
def open_cart(body: CartCreate, write: CartWrite, db: DbDep) -> object:
    """The customer's (or session's) open cart in the currency: 201 when created, 200 when it
    already existed, so every device gets the same cart."""
    with db.read() as session:  # only picks the status code; the use case decides again
        existing = None
        if body.customer_id is not None and body.anonymous_token is None:
            profile = customers.resolve_live(session, body.customer_id)
            existing = service.open_cart_of(
                session, currency=check_currency(body.currency), profile_id=profile.id
            )
        elif body.anonymous_token is not None and body.customer_id is None:
            existing = service.open_cart_of(
                session, currency=check_currency(body.currency), token=body.anonymous_token
            )

    def use_case(uow: UnitOfWork) -> CartPublic:
        opened = service.open_cart(
            uow,
            actor=_actor(write.principal),
            currency=body.currency,
            customer_id=body.customer_id,
            anonymous_token=body.anonymous_token,
            pickup_location_id=body.pickup_location_id,
        )
        return _priced(uow, opened.cart, write.principal)

    return write.run(use_case, status_code=200 if existing else 201)


@router.post("/{cart_id}/lines", response_model=CartPublic, summary="Add to the cart")
def add_line(cart_id: str, body: LineAdd, write: CartWrite) -> object:
    """Add ``quantity`` of a SKU (more of it when already there). The line records the channel
    and store that added it; a till's lines and click & collect carts hold stock. 422
    ``not-sold-on-channel`` for a store-only SKU online; 409 ``insufficient-stock``."""

    def use_case(uow: UnitOfWork) -> CartPublic:
        cart = service.add_line(
            uow,
            cart_id,
            sku=body.sku,
            quantity=body.quantity,
            actor=_actor(write.principal),
            customer_id=body.customer_id,
        )
        return _priced(uow, cart, write.principal)

    return write.run(use_case)


@router.patch("/{cart_id}/lines/{line_id}", response_model=CartPublic)
def change_line(cart_id: str, line_id: str, body: LineUpdate, write: CartWrite) -> object:
    """Set a line's quantity."""

    def use_case(uow: UnitOfWork) -> CartPublic:
        cart = service.change_line(
            uow,
            cart_id,
            line_id,
            quantity=body.quantity,
            actor=_actor(write.principal),
            customer_id=body.customer_id,
        )
        return _priced(uow, cart, write.principal)

    return write.run(use_case)


@router.delete("/{cart_id}/lines/{line_id}", response_model=CartPublic)
def remove_line(
    cart_id: str, line_id: str, write: CartWrite, customer_id: ActingQuery = None
) -> object:
    """Remove a line; the stock it held goes back on sale."""

    def use_case(uow: UnitOfWork) -> CartPublic:
        cart = service.remove_line(
            uow, cart_id, line_id, actor=_actor(write.principal), customer_id=customer_id
        )
        return _priced(uow, cart, write.principal)

    return write.run(use_case)


@router.post("/{cart_id}/customer", response_model=CartPublic, summary="Attach the customer")
def attach_customer(cart_id: str, body: CustomerAttach, write: CartWrite) -> object:
    """At login: the anonymous cart becomes the customer's, or merges into the cart they already
    have (returned; a SKU in both keeps the larger quantity). Give ``customer_id``, or
    ``identifiers`` to identify the customer in the same call."""
    if (body.customer_id is None) == (body.identifiers is None):
        raise InvalidInput("Give customer_id or identifiers.", field="customer_id")
    identifiers = None
    if body.identifiers is not None:
        if not write.principal.has_scope("customers:write"):
            raise Forbidden(
                "Identifying a customer needs the customers:write scope; pass customer_id instead.",
                code="missing-scope",
                required_scope="customers:write",
            )
        identifiers = normalise_identifiers(
            [(i.kind, i.value) for i in body.identifiers], region=body.phone_region
        )

    def use_case(uow: UnitOfWork) -> CartPublic:
        customer_id = body.customer_id
        if identifiers is not None:
            customer_id = customers.identify(
                uow,
                identifiers=identifiers,
                channel=write.principal.channel.value,
                source_ref=f"cart:{cart_id}",
            ).profile_id
        assert customer_id is not None
        cart = service.attach_customer(
            uow, cart_id, customer_id=customer_id, actor=_actor(write.principal)
        )
        return _priced(uow, cart, write.principal)

    return write.run(use_case)


@router.put("/{cart_id}/pickup", response_model=CartPublic, summary="Click & collect store")
def choose_pickup(cart_id: str, body: PickupChoice, write: CartWrite) -> object:
    """Collect at this store (every line is then held there, all or nothing), or null for home
    delivery (holds released)."""

    def use_case(uow: UnitOfWork) -> CartPublic:
        cart = service.choose_pickup(
            uow,
            cart_id,
            location_id=body.location_id,
            actor=_actor(write.principal),
            customer_id=body.customer_id,
        )
        return _priced(uow, cart, write.principal)

    return write.run(use_case)


@router.post("/{cart_id}/abandon", response_model=CartPublic)
def abandon_cart(cart_id: str, write: CartWrite, body: ActingFor | None = None) -> object:
    """Close the cart without an order; its holds go back on sale."""

    def use_case(uow: UnitOfWork) -> CartPublic:
        cart = service.abandon(
            uow,
            cart_id,
            actor=_actor(write.principal),
            customer_id=body.customer_id if body else None,
        )
        return _priced(uow, cart, write.principal)

    return write.run(use_case)


@router.post(
    "/{cart_id}/handoffs",
    status_code=201,
    response_model=HandoffPublic,
    summary="Send the cart to the customer's phone",
)
def hand_off(
    cart_id: str, write: CartWrite, settings: SettingsDep, body: HandoffCreate | None = None
) -> object:
    """A short single-use code and link (send it by SMS or show it as a QR code) that opens
    this cart on the customer's phone until it expires. A new code replaces the previous one."""
    ttl = body.ttl_minutes if body else DEFAULT_HANDOFF_TTL_MINUTES

    def use_case(uow: UnitOfWork) -> HandoffPublic:
        row = service.hand_off(uow, cart_id, actor=_actor(write.principal), ttl_minutes=ttl)
        return _handoff(row, settings.public_base_url)

    return write.run(use_case, status_code=201)


@router.post("/handoffs/{code}/claim", response_model=CartPublic, summary="Open a handed-off cart")
def claim_handoff(code: str, body: HandoffClaim, write: CartWrite) -> object:
    """From the phone: the cart becomes the signed-in customer's (merged into their own cart
    if they have one, which is returned) or the session's. 410 ``handoff-expired``."""

    def use_case(uow: UnitOfWork) -> CartPublic:
        claimed = service.claim_handoff(
            uow,
            code,
            actor=_actor(write.principal),
            customer_id=body.customer_id,
            anonymous_token=body.anonymous_token,
        )
        return _priced(uow, claimed.cart, write.principal)

    return write.run(use_case)
