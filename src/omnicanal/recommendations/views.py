"""Recommendation reads: next-best-offer for a customer, accessories for a cart at its store.

Neither ever offers a SKU the customer returned (at any time) nor one they bought in the last
``RECENT_WINDOW`` (they have it; older purchases may be offered again, as consumables are).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnicanal.carts.tables import CartLineRow
from omnicanal.carts.views import find_cart
from omnicanal.catalog.tables import VariantRow
from omnicanal.inventory.model import StockLevel
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.recommendations import model
from omnicanal.recommendations.service import current_model
from omnicanal.recommendations.tables import RecoBasketItemRow, RecoBasketRow, RecoReturnRow

RECENT_WINDOW = timedelta(days=90)
CANDIDATE_FACTOR = 10  # candidates ranked before the stock and catalogue filters


@dataclass(frozen=True)
class Suggestion:
    sku: str
    score: float
    title: str | None = None


@dataclass(frozen=True)
class Suggestions:
    based_on: list[str]  # the SKUs the suggestions were computed from
    items: list[Suggestion]
    model_version: int
    store_id: str | None = None
    excluded: list[str] = field(default_factory=list)  # returned or recently bought


def customer_exclusions(session: Session, customer_id: str, *, now: datetime) -> set[str]:
    """SKUs never to offer ``customer_id``: all they returned, what they bought recently."""
    returned = session.scalars(
        select(RecoReturnRow.sku).where(RecoReturnRow.customer_id == customer_id)
    )
    recent = session.scalars(
        select(RecoBasketItemRow.sku)
        .join(RecoBasketRow, RecoBasketRow.id == RecoBasketItemRow.basket_id)
        .where(
            RecoBasketRow.customer_id == customer_id,
            RecoBasketRow.active.is_(True),
            RecoBasketRow.at >= now - RECENT_WINDOW,
        )
    )
    return set(returned) | set(recent)


def history(session: Session, customer_id: str) -> list[tuple[str, int]]:
    """``(sku, baskets)`` the customer bought on any channel, most bought first."""
    baskets = func.count(RecoBasketItemRow.basket_id)
    rows = session.execute(
        select(RecoBasketItemRow.sku, baskets)
        .join(RecoBasketRow, RecoBasketRow.id == RecoBasketItemRow.basket_id)
        .where(RecoBasketRow.customer_id == customer_id, RecoBasketRow.active.is_(True))
        .group_by(RecoBasketItemRow.sku)
        .order_by(baskets.desc(), RecoBasketItemRow.sku)
    )
    return [(sku, int(count)) for sku, count in rows]


def _sellable(session: Session, skus: Sequence[str]) -> dict[str, str]:
    """Title of each SKU of ``skus`` still active in the catalogue."""
    if not skus:
        return {}
    rows = session.execute(
        select(VariantRow.sku, VariantRow.title).where(
            VariantRow.sku.in_(list(skus)), VariantRow.status == "active"
        )
    )
    return {str(sku): str(title) for sku, title in rows}


def _available_at(session: Session, skus: Sequence[str], store_id: str) -> set[str]:
    if not skus:
        return set()
    rows = session.execute(
        select(
            StockLevelRow.sku,
            StockLevelRow.on_hand,
            StockLevelRow.reserved,
            StockLevelRow.committed,
            StockLevelRow.damaged,
            StockLevelRow.safety_stock,
        ).where(StockLevelRow.sku.in_(list(skus)), StockLevelRow.location_id == store_id)
    )
    return {
        sku
        for sku, on_hand, reserved, committed, damaged, safety in rows
        if StockLevel(
            sku, store_id, on_hand, reserved, committed, damaged, safety
        ).available_to_promise
        > 0
    }


def _rank(
    session: Session,
    based_on: Sequence[tuple[str, float]],
    *,
    limit: int,
    exclude: Collection[str],
    store_id: str | None,
) -> list[Suggestion]:
    co_model = current_model(session)
    ranked = model.bought_with(
        co_model,
        [sku for sku, _ in based_on],
        limit=max(limit * CANDIDATE_FACTOR, limit),
        exclude=exclude,
        weights=[weight for _, weight in based_on],
    )
    skus = [sku for sku, _ in ranked]
    titles = _sellable(session, skus)
    in_stock = _available_at(session, skus, store_id) if store_id else None
    kept = [
        Suggestion(sku, round(score, 6), titles[sku])
        for sku, score in ranked
        if sku in titles and (in_stock is None or sku in in_stock)
    ]
    return kept[:limit]


def for_customer(
    session: Session, customer_id: str, *, now: datetime, limit: int = 5
) -> Suggestions:
    """Next-best-offer: what is bought with what the customer bought (weighted by how often
    they bought it), never what they returned or bought within ``RECENT_WINDOW``."""
    bought = history(session, customer_id)
    excluded = customer_exclusions(session, customer_id, now=now)
    items = _rank(
        session,
        [(sku, float(count)) for sku, count in bought],
        limit=limit,
        exclude=excluded,
        store_id=None,
    )
    return Suggestions(
        based_on=[sku for sku, _ in bought],
        items=items,
        model_version=current_model(session).version,
        excluded=sorted(excluded),
    )


def for_cart(
    session: Session,
    cart_id: str,
    *,
    now: datetime,
    limit: int = 5,
    store_id: str | None = None,
) -> Suggestions:
    """Accessories for the cart's lines, in stock (available to promise) at the cart's store
    (the till's, else ``store_id`` such as the caller's, else its pickup store; no stock check
    when none is known), never what the cart's customer returned or bought recently."""
    cart, _ = find_cart(session, cart_id)
    lines = list(
        session.execute(
            select(CartLineRow.sku, CartLineRow.quantity).where(CartLineRow.cart_id == cart.id)
        )
    )
    in_cart = sorted({sku for sku, _ in lines})
    excluded = customer_exclusions(session, cart.profile_id, now=now) if cart.profile_id else set()
    store = cart.store_id or store_id or cart.pickup_location_id
    items = _rank(
        session,
        [(sku, 1.0) for sku in in_cart],
        limit=limit,
        exclude=excluded | set(in_cart),
        store_id=store,
    )
    return Suggestions(
        based_on=in_cart,
        items=items,
        model_version=current_model(session).version,
        store_id=store,
        excluded=sorted(excluded),
    )


def for_skus(
    session: Session, skus: Sequence[str], *, limit: int = 5, store_id: str | None = None
) -> Suggestions:
    items = _rank(
        session, [(sku, 1.0) for sku in skus], limit=limit, exclude=set(skus), store_id=store_id
    )
    return Suggestions(
        based_on=list(skus),
        items=items,
        model_version=current_model(session).version,
        store_id=store_id,
    )
