"""What an order costs: catalogue checks, the price book (``pricing``), then the promotions
engine (``promotions``) — the same functions a cart and a quote use, so every channel gets the
same answer for the same basket."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from omnicanal.catalog.model import sellable_in_channel
from omnicanal.catalog.tables import ProductRow, VariantRow
from omnicanal.orders.tables import OrderLineRow, OrderRow
from omnicanal.shared.errors import Conflict, NotFound
from omnicanal.storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class PricedSku:
    sku: str
    title: str
    category: str | None
    unit_price_minor: int
    override_id: str | None  # the justified price-book override that applied, if any


def price_skus(
    session: Session,
    skus: Sequence[str],
    *,
    currency: str,
    channel: str,
    store_id: str | None,
    store_bound: bool,
    at: datetime,
) -> dict[str, PricedSku]:
    """Known, active, in the channel's range, and priced by the price book for this context."""
    from omnicanal.pricing.service import resolve_prices

    rows = session.execute(
        select(
            VariantRow.sku,
            VariantRow.title,
            VariantRow.status,
            ProductRow.status,
            ProductRow.assortment,
            ProductRow.category,
        )
        .join(ProductRow, ProductRow.id == VariantRow.product_id)
        .where(VariantRow.sku.in_(list(skus)))
    ).all()
    found = {r[0]: r for r in rows}
    for sku in skus:
        r = found.get(sku)
        if r is None:
            raise NotFound(
                f"Unknown SKU {sku!r}; search the catalogue with GET /v1/variants?sku=….",
                field="sku",
                sku=sku,
            )
        if r[2] != "active" or r[3] != "active":
            raise Conflict(f"SKU {sku} is archived and can no longer be sold.", sku=sku)
        if not sellable_in_channel(r[4], channel, store_bound=store_bound):
            raise Conflict(
                f"SKU {sku} belongs to the {r[4]} range and cannot be sold through the "
                f"{channel} channel.",
                code="not-in-assortment",
                sku=sku,
                assortment=r[4],
            )
    quotes = resolve_prices(
        session, list(skus), currency=currency, channel=channel, store_id=store_id, at=at
    )
    result = {}
    for sku in skus:
        quote = quotes[sku]
        result[sku] = PricedSku(
            sku=sku,
            title=found[sku][1],
            category=found[sku][5],
            unit_price_minor=quote.price.minor,
            override_id=quote.override.id if quote.override is not None else None,
        )
    return result


@dataclass(frozen=True)
class Promoted:
    discount_minor: int
    bonus_points: int
    applied: list[dict[str, Any]]


NO_PROMOTION = Promoted(0, 0, [])


def apply_promotions(
    uow: UnitOfWork,
    *,
    order: OrderRow,
    lines: Sequence[OrderLineRow],
    priced: dict[str, PricedSku],
    coupons: Sequence[str],
    at: datetime,
) -> Promoted:
    """Price the basket with the promotions engine, write each line's share of the discounts,
    and consume the promotions' uses and budgets in this transaction (409 when exhausted)."""
    from omnicanal.promotions import service as promotions

    if not promotions.active_promotions(uow.session).promotions:
        return NO_PROMOTION  # nothing to evaluate: no tier, history or catalogue look-ups
    quantities: dict[str, int] = defaultdict(int)
    for line in lines:
        quantities[line.sku] += line.quantity
    basket = promotions.BasketInput(
        currency=order.currency,
        lines=tuple(
            promotions.LineInput(
                sku=sku,
                quantity=qty,
                unit_price_minor=priced[sku].unit_price_minor,
                category=priced[sku].category,
            )
            for sku, qty in sorted(quantities.items())
        ),
        channel=order.channel,
        store_id=order.store_id,
        customer_id=order.customer_id,
        tier=_tier(uow.session, order.customer_id),
        coupons=frozenset(c.strip().upper() for c in coupons if c.strip()),
        first_order=_first_order(uow.session, order),
    )
    quote = promotions.quote(uow.session, basket, at=at)
    if not quote.applied:
        return NO_PROMOTION
    promotions.redeem(uow, quote, order_id=order.id, customer_id=order.customer_id)
    by_sku = {pl.sku: pl.discount_minor + pl.basket_share_minor for pl in quote.lines}
    for sku, discount in by_sku.items():
        _share(discount, [line for line in lines if line.sku == sku])
    return Promoted(
        discount_minor=quote.discount_minor,
        bonus_points=quote.bonus_points,
        applied=[
            {
                "promotion_id": a.promotion_id,
                "name": a.name,
                "discount_minor": a.discount_minor,
                "bonus_points": a.bonus_points,
                "coupon": a.coupon,
            }
            for a in quote.applied
        ],
    )


def _share(discount: int, lines: Sequence[OrderLineRow]) -> None:
    """A SKU split over several groups: its discount shared by quantity, largest remainder."""
    from omnicanal.promotions.model import split

    total_qty = sum(line.quantity for line in lines)
    if not lines or total_qty == 0:
        return
    shares = split([Fraction(discount * line.quantity, total_qty) for line in lines])
    for line, share in zip(lines, shares, strict=True):
        line.discount_minor = share


def _tier(session: Session, customer_id: str | None) -> str | None:
    if customer_id is None:
        return None
    from omnicanal.loyalty.tables import LoyaltyAccountRow

    tier: str | None = session.scalar(
        select(LoyaltyAccountRow.tier).where(
            LoyaltyAccountRow.customer_id == customer_id, LoyaltyAccountRow.status == "active"
        )
    )
    return tier


def _first_order(session: Session, order: OrderRow) -> bool:
    if order.customer_id is None:
        return False
    earlier = session.scalar(
        select(exists().where(OrderRow.customer_id == order.customer_id, OrderRow.id != order.id))
    )
    return not earlier
