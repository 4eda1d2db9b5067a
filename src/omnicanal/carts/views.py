"""Read side: a cart priced at today's prices, and the carts an associate finds for a customer.

A cart is re-priced on every read from the catalogue's base prices in its currency, in a fixed
number of queries whatever the number of carts or lines (lines, prices, SKU facts, holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.carts.model import CartStatus, LineToPrice, PricedCart, PricedLine, price_cart
from omnicanal.carts.tables import CartHandoffRow, CartLineRow, CartRow
from omnicanal.catalog.tables import BasePriceRow
from omnicanal.catalog.views import variant_info
from omnicanal.customers.service import resolve_live
from omnicanal.customers.views import find_profiles
from omnicanal.inventory.tables import ReservationRow
from omnicanal.promotions.model import PricedBasket
from omnicanal.shared.errors import Conflict, NotFound
from omnicanal.shared.money import Money

MAX_PROFILES_PER_LOOKUP = 20


@dataclass(frozen=True, slots=True)
class HoldView:
    reservation_id: str
    location_id: str
    quantity: int
    status: str  # active | released | expired | fulfilled
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class LineView:
    row: CartLineRow
    title: str | None
    priced: PricedLine
    sellable_on_channel: bool  # may the reading channel sell it (a store-only item online: no)
    hold: HoldView | None


@dataclass(frozen=True, slots=True)
class CartView:
    cart: CartRow
    lines: list[LineView]
    priced: PricedCart
    priced_at: datetime
    resolved_from: str | None = None  # the id asked for, when it was merged into this cart
    promotions: PricedBasket | None = None  # the promotions engine's answer for this basket


def find_cart(session: Session, cart_id: str) -> tuple[CartRow, str | None]:
    """The cart ``cart_id`` names now (its survivor if it was merged) and, then, ``cart_id``."""
    current = cart_id
    for _ in range(20):
        row = session.get(CartRow, current)
        if row is None:
            raise NotFound(
                f"No cart {cart_id!r}; find the customer's with GET /v1/carts?customer=….",
                code="cart-not-found",
                field="cart_id",
                cart_id=cart_id,
            )
        if row.status == CartStatus.MERGED.value and row.merged_into:
            current = row.merged_into
            continue
        return row, (cart_id if current != cart_id else None)
    raise Conflict(f"The merge chain of cart {cart_id} does not end; report this.")


def open_carts_of_profiles(
    session: Session, profile_ids: Sequence[str], *, currency: str | None = None
) -> list[CartRow]:
    if not profile_ids:
        return []
    stmt = select(CartRow).where(
        CartRow.profile_id.in_(list(profile_ids)), CartRow.status == CartStatus.OPEN.value
    )
    if currency is not None:
        stmt = stmt.where(CartRow.currency == currency)
    return list(session.scalars(stmt.order_by(CartRow.profile_id, CartRow.currency)))


def carts_of_customer(
    session: Session, customer_id: str, *, currency: str | None = None
) -> list[CartRow]:
    """Open carts of a customer (a merged id finds its survivor's; an erased one is 410)."""
    return open_carts_of_profiles(
        session, [resolve_live(session, customer_id).id], currency=currency
    )


def carts_by_identifier(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    card: str | None = None,
    currency: str | None = None,
) -> list[CartRow]:
    """What an associate types: the open carts of the customer with that phone, email or card."""
    profiles, _ = find_profiles(
        session,
        email=email,
        phone=phone,
        card=card,
        cursor=None,
        limit=MAX_PROFILES_PER_LOOKUP,
    )
    return open_carts_of_profiles(session, [p.id for p in profiles], currency=currency)


def carts_of_token(session: Session, token: str, *, currency: str | None = None) -> list[CartRow]:
    """The open carts of an anonymous session (one per currency)."""
    stmt = select(CartRow).where(
        CartRow.anonymous_token == token, CartRow.status == CartStatus.OPEN.value
    )
    if currency is not None:
        stmt = stmt.where(CartRow.currency == currency)
    return list(session.scalars(stmt.order_by(CartRow.currency)))


def pending_handoffs(session: Session, cart_id: str) -> list[CartHandoffRow]:
    return list(
        session.scalars(
            select(CartHandoffRow)
            .where(CartHandoffRow.cart_id == cart_id, CartHandoffRow.status == "pending")
            .order_by(CartHandoffRow.created_at)
        )
    )


def _promotions(
    session: Session, cart: CartRow, priced: PricedCart, *, channel: str, now: datetime
) -> PricedBasket | None:
    """The same engine and rules an order placed from this cart will use."""
    from omnicanal.promotions import service as promotions

    lines = tuple(
        promotions.LineInput(sku=line.sku, quantity=line.quantity, unit_price_minor=price.minor)
        for line in priced.lines
        if (price := line.unit_price) is not None
    )
    if not lines:
        return None
    return promotions.quote(
        session,
        promotions.BasketInput(
            currency=cart.currency,
            lines=lines,
            channel=channel,
            store_id=cart.store_id,
            customer_id=cart.profile_id,
        ),
        at=now,
    )


def _book_prices(
    session: Session,
    cart: CartRow,
    lines: Sequence[CartLineRow],
    base: dict[tuple[str, str], Money],
    *,
    channel: str,
    now: datetime,
) -> dict[str, Money]:
    """The price book's prices for this channel and the cart's store (the same rule orders
    use), the base price where a SKU has no price in the book's terms."""
    from omnicanal.pricing.service import resolve_prices
    from omnicanal.shared.errors import NotFound

    found = {sku: money for (sku, cur), money in base.items() if cur == cart.currency}
    skus = sorted({line.sku for line in lines if line.sku in found})
    if not skus:
        return found
    try:
        quotes = resolve_prices(
            session, skus, currency=cart.currency, channel=channel, store_id=cart.store_id, at=now
        )
    except NotFound:
        return found
    return {**found, **{sku: q.price for sku, q in quotes.items()}}


def cart_views(
    session: Session,
    carts: Sequence[CartRow],
    *,
    now: datetime,
    channel: str,
    store_bound: bool,
    resolved_from: dict[str, str] | None = None,
) -> list[CartView]:
    """Carts with their lines priced now, as ``channel`` sees them."""
    if not carts:
        return []
    ids = [c.id for c in carts]
    lines: dict[str, list[CartLineRow]] = {i: [] for i in ids}
    for line in session.scalars(
        select(CartLineRow)
        .where(CartLineRow.cart_id.in_(ids))
        .order_by(CartLineRow.added_at, CartLineRow.id)
    ):
        lines[line.cart_id].append(line)
    skus = sorted({line.sku for group in lines.values() for line in group})
    currencies = sorted({c.currency for c in carts})
    prices: dict[tuple[str, str], Money] = {}
    if skus:
        for price in session.scalars(
            select(BasePriceRow).where(
                BasePriceRow.sku.in_(skus), BasePriceRow.currency.in_(currencies)
            )
        ):
            prices[(price.sku, price.currency)] = Money(price.amount_minor, price.currency)
    infos = variant_info(session, skus)
    reservation_ids = [x.reservation_id for g in lines.values() for x in g if x.reservation_id]
    holds: dict[str, ReservationRow] = {}
    if reservation_ids:
        holds = {
            r.id: r
            for r in session.scalars(
                select(ReservationRow).where(ReservationRow.id.in_(reservation_ids))
            )
        }
    views = []
    for cart in carts:
        group = lines[cart.id]
        priced = price_cart(
            cart.currency,
            [
                LineToPrice(
                    x.sku,
                    x.quantity,
                    Money(x.price_at_add_minor, cart.currency)
                    if x.price_at_add_minor is not None
                    else None,
                )
                for x in group
            ],
            _book_prices(session, cart, group, prices, channel=channel, now=now),
        )
        line_views = []
        for row, priced_line in zip(group, priced.lines, strict=True):
            info = infos.get(row.sku)
            hold = holds.get(row.reservation_id) if row.reservation_id else None
            line_views.append(
                LineView(
                    row=row,
                    title=info.title if info else None,
                    priced=priced_line,
                    sellable_on_channel=bool(
                        info and info.sellable_in(channel, store_bound=store_bound)
                    ),
                    hold=HoldView(
                        reservation_id=hold.id,
                        location_id=hold.location_id,
                        quantity=hold.quantity,
                        status="expired"
                        if hold.status == "active"
                        and hold.expires_at is not None
                        and hold.expires_at <= now
                        else hold.status,
                        expires_at=hold.expires_at,
                    )
                    if hold
                    else None,
                )
            )
        views.append(
            CartView(
                cart=cart,
                lines=line_views,
                priced=priced,
                priced_at=now,
                resolved_from=(resolved_from or {}).get(cart.id),
                promotions=_promotions(session, cart, priced, channel=channel, now=now),
            )
        )
    return views


def cart_view(
    session: Session,
    cart: CartRow,
    *,
    now: datetime,
    channel: str,
    store_bound: bool,
    resolved_from: str | None = None,
) -> CartView:
    [view] = cart_views(
        session,
        [cart],
        now=now,
        channel=channel,
        store_bound=store_bound,
        resolved_from={cart.id: resolved_from} if resolved_from else None,
    )
    return view
