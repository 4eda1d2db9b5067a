"""Promotions: define them, quote a basket with them, redeem and release them on orders.

``quote`` evaluates the pure engine (``model.price_basket``) on the active promotions, cached in
process for a few seconds and dropped on every change made here. ``redeem`` consumes uses and
money budgets with one conditional UPDATE per promotion (``... WHERE redemptions + 1 <= max AND
spent + x <= budget``), in promotion-id order, so concurrent orders never exceed a limit;
``release`` gives them back when an order is cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.customers.activity_tables import SegmentMemberRow
from omnicanal.customers.service import resolve
from omnicanal.promotions.events import (
    BudgetExhausted,
    PromotionChanged,
    PromotionCreated,
    RedemptionRecorded,
    RedemptionReleased,
)
from omnicanal.promotions.model import (
    Action,
    Basket,
    Conditions,
    Context,
    Line,
    NotApplied,
    PricedBasket,
    Promotion,
    action_from_json,
    action_to_json,
    check_promotion,
    conditions_from_json,
    conditions_to_json,
    normalise_coupon,
    price_basket,
)
from omnicanal.promotions.tables import PromotionRow, RedemptionRow
from omnicanal.shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money, check_currency
from omnicanal.storage.uow import UnitOfWork

STATUSES = ("active", "paused", "archived")
CACHE_SECONDS = 5.0


# ---------------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PromotionDraft:
    name: str
    actions: tuple[Action, ...]
    conditions: Conditions = field(default_factory=Conditions)
    description: str = ""
    status: str = "active"
    priority: int = 0
    exclusive: bool = False
    stackable: bool = True
    currency: str | None = None
    store_id: str | None = None
    max_redemptions: int | None = None
    max_per_customer: int | None = None
    budget_minor: int | None = None


def _check_draft(draft: PromotionDraft) -> PromotionDraft:
    if not draft.name.strip():
        raise InvalidInput("Give the promotion a name people will read.", field="name")
    if draft.status not in STATUSES:
        raise InvalidInput(f"status is one of {', '.join(STATUSES)}.", field="status")
    for name in ("max_redemptions", "max_per_customer", "budget_minor"):
        value = getattr(draft, name)
        if value is not None and value < 1:
            raise InvalidInput(
                f"{name} must be at least 1 (leave it out for no limit).", field=name
            )
    currency = check_currency(draft.currency) if draft.currency else None
    if draft.budget_minor is not None and currency is None:
        raise InvalidInput("A money budget needs the promotion's currency.", field="currency")
    coupon = normalise_coupon(draft.conditions.coupon) if draft.conditions.coupon else None
    conditions = replace(draft.conditions, coupon=coupon)
    draft = replace(draft, name=draft.name.strip(), currency=currency, conditions=conditions)
    check_promotion(to_engine(draft, "prm_check"))
    return draft


def to_engine(draft: PromotionDraft, promotion_id: str) -> Promotion:
    conditions = draft.conditions
    if draft.store_id is not None:  # a store's own promotion applies in that store only
        conditions = replace(conditions, stores=frozenset({draft.store_id}))
    return Promotion(
        id=promotion_id,
        name=draft.name,
        actions=draft.actions,
        conditions=conditions,
        priority=draft.priority,
        exclusive=draft.exclusive,
        stackable=draft.stackable,
        currency=draft.currency,
    )


def draft_of(row: PromotionRow) -> PromotionDraft:
    return PromotionDraft(
        name=row.name,
        description=row.description,
        status=row.status,
        actions=tuple(action_from_json(a) for a in row.actions.get("items", [])),
        conditions=conditions_from_json(
            row.conditions, starts_at=row.starts_at, ends_at=row.ends_at, coupon=row.coupon_code
        ),
        priority=row.priority,
        exclusive=row.exclusive,
        stackable=row.stackable,
        currency=row.currency,
        store_id=row.store_id,
        max_redemptions=row.max_redemptions,
        max_per_customer=row.max_per_customer,
        budget_minor=row.budget_minor,
    )


def _write(row: PromotionRow, draft: PromotionDraft) -> None:
    row.name = draft.name
    row.description = draft.description
    row.status = draft.status
    row.actions = {"items": [action_to_json(a) for a in draft.actions]}
    row.conditions = conditions_to_json(draft.conditions)
    row.starts_at = draft.conditions.starts_at
    row.ends_at = draft.conditions.ends_at
    row.coupon_code = draft.conditions.coupon
    row.priority = draft.priority
    row.exclusive = draft.exclusive
    row.stackable = draft.stackable
    row.currency = draft.currency
    row.store_id = draft.store_id
    row.max_redemptions = draft.max_redemptions
    row.max_per_customer = draft.max_per_customer
    row.budget_minor = draft.budget_minor


def definition(row: PromotionRow) -> dict[str, Any]:
    return {
        "priority": row.priority,
        "exclusive": row.exclusive,
        "stackable": row.stackable,
        "currency": row.currency,
        "coupon": row.coupon_code is not None,
        "conditions": row.conditions,
        "actions": row.actions.get("items", []),
    }


def _check_acting_store(draft: PromotionDraft, acting_store: str | None) -> PromotionDraft:
    if acting_store is None:
        return draft
    if draft.store_id not in (None, acting_store):
        raise Forbidden(
            f"This key is bound to store {acting_store}; it can define promotions for that store "
            "only.",
            code="wrong-store",
            store_id=acting_store,
        )
    return replace(draft, store_id=acting_store)


def create_promotion(
    uow: UnitOfWork, draft: PromotionDraft, *, acting_store: str | None = None, actor: str | None
) -> PromotionRow:
    """A new promotion; a store-bound key makes its store's own (local) promotion."""
    draft = _check_draft(_check_acting_store(draft, acting_store))
    now = uow.now()
    row = PromotionRow(
        id=new_id("prm"),
        redemptions=0,
        spent_minor=0,
        version=1,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    _write(row, draft)
    uow.session.add(row)
    uow.emit(
        PromotionCreated(
            promotion_id=row.id,
            name=row.name,
            status=row.status,
            store_id=row.store_id,
            definition=definition(row),
        )
    )
    invalidate_cache()
    return row


def get_promotion(session: Session, promotion_id: str, *, lock: bool = False) -> PromotionRow:
    stmt = select(PromotionRow).where(PromotionRow.id == promotion_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(
            f"No promotion {promotion_id}; list them with GET /v1/promotions.",
            promotion_id=promotion_id,
        )
    return row


def change_promotion(
    uow: UnitOfWork,
    promotion_id: str,
    changes: Mapping[str, Any],
    *,
    acting_store: str | None = None,
) -> PromotionRow:
    """Change some fields of a promotion (``PromotionDraft`` names); counters are kept."""
    row = get_promotion(uow.session, promotion_id, lock=True)
    if acting_store is not None and row.store_id != acting_store:
        raise Forbidden(
            f"This key is bound to store {acting_store}; promotion {promotion_id} is not that "
            "store's own.",
            code="wrong-store",
            store_id=acting_store,
        )
    unknown = sorted(set(changes) - set(PromotionDraft.__dataclass_fields__))
    if unknown:
        raise InvalidInput(f"Unknown field(s) {', '.join(unknown)}.", field=unknown[0])
    current = draft_of(row)
    draft = _check_draft(_check_acting_store(replace(current, **changes), acting_store))
    changed = sorted(k for k in changes if getattr(current, k) != getattr(draft, k))
    if not changed:
        return row
    _write(row, draft)
    row.version += 1
    row.updated_at = uow.now()
    uow.emit(
        PromotionChanged(
            promotion_id=row.id,
            name=row.name,
            status=row.status,
            store_id=row.store_id,
            version=row.version,
            changes=changed,
        )
    )
    invalidate_cache()
    return row


# ---------------------------------------------------------------------------------------------
# The active promotions, cached in process
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Active:
    loaded_at: float
    generation: int
    promotions: tuple[Promotion, ...]
    exhausted: Mapping[str, str]  # promotion id -> why
    per_customer: Mapping[str, int]  # promotion id -> max uses per customer


_lock = threading.Lock()
_generation = 0
_cache: WeakKeyDictionary[Engine, _Active] = WeakKeyDictionary()


def invalidate_cache() -> None:
    """Drop the cached promotions (this process); other processes reload within seconds."""
    global _generation
    with _lock:
        _generation += 1


def _exhausted(row: PromotionRow) -> str | None:
    if row.max_redemptions is not None and row.redemptions >= row.max_redemptions:
        return f"used up: all {row.max_redemptions} redemptions taken"
    if row.budget_minor is not None and row.spent_minor >= row.budget_minor:
        return f"its budget of {Money(row.budget_minor, row.currency or 'EUR')} is spent"
    return None


def active_promotions(session: Session) -> _Active:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(engine)
        generation = _generation
    if cached and cached.generation == generation and now - cached.loaded_at < CACHE_SECONDS:
        return cached
    rows = session.scalars(select(PromotionRow).where(PromotionRow.status == "active")).all()
    exhausted = {row.id: why for row in rows if (why := _exhausted(row))}
    loaded = _Active(
        loaded_at=now,
        generation=generation,
        promotions=tuple(to_engine(draft_of(row), row.id) for row in rows),
        exhausted=exhausted,
        per_customer={r.id: r.max_per_customer for r in rows if r.max_per_customer},
    )
    with _lock:
        _cache[engine] = loaded
    return loaded


# ---------------------------------------------------------------------------------------------
# Quote
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineInput:
    sku: str
    quantity: int
    unit_price_minor: int | None = None  # None: the catalogue's base price in the currency
    category: str | None = None  # None: the product's category from the catalogue


@dataclass(frozen=True, kw_only=True)
class BasketInput:
    currency: str
    lines: tuple[LineInput, ...]
    channel: str
    store_id: str | None = None
    territory: str | None = None
    customer_id: str | None = None  # adds the customer's segments; per-customer limits
    segments: frozenset[str] = frozenset()
    tier: str | None = None  # the loyalty tier, as the loyalty context names it
    coupons: frozenset[str] = frozenset()
    first_order: bool = False
    shipping_minor: int = 0


def _catalogue(
    session: Session, skus: set[str], currency: str
) -> dict[str, tuple[int | None, str | None]]:
    stmt = (
        select(VariantRow.sku, BasePriceRow.amount_minor, ProductRow.category)
        .join(ProductRow, ProductRow.id == VariantRow.product_id)
        .outerjoin(
            BasePriceRow,
            (BasePriceRow.sku == VariantRow.sku) & (BasePriceRow.currency == currency),
        )
        .where(VariantRow.sku.in_(skus))
    )
    return {sku: (price, category) for sku, price, category in session.execute(stmt)}


def _lines(session: Session, basket: BasketInput) -> tuple[Line, ...]:
    if not basket.lines:
        raise InvalidInput("A basket needs at least one line.", field="lines")
    need = {
        line.sku for line in basket.lines if line.unit_price_minor is None or line.category is None
    }
    known = _catalogue(session, need, basket.currency) if need else {}
    lines = []
    for n, line in enumerate(basket.lines):
        if line.quantity < 1:
            raise InvalidInput("quantity must be at least 1.", field=f"lines[{n}].quantity")
        price, category = line.unit_price_minor, line.category
        if price is None or category is None:
            if line.sku not in known:
                raise InvalidInput(
                    f"Unknown SKU {line.sku!r}; check the catalogue.", field=f"lines[{n}].sku"
                )
            price = known[line.sku][0] if price is None else price
            category = known[line.sku][1] if category is None else category
            if price is None:
                raise InvalidInput(
                    f"{line.sku} has no base price in {basket.currency}; give unit_price or set "
                    "one in the catalogue.",
                    field=f"lines[{n}].sku",
                )
        if price < 0:
            raise InvalidInput("A price cannot be negative.", field=f"lines[{n}].unit_price")
        lines.append(Line(line.sku, line.quantity, price, category))
    return tuple(lines)


def _segments(session: Session, customer_id: str | None) -> frozenset[str]:
    if customer_id is None:
        return frozenset()
    profile_id = resolve(session, customer_id).id  # a merged profile's segments are the survivor's
    rows = session.scalars(
        select(SegmentMemberRow.segment_id).where(SegmentMemberRow.profile_id == profile_id)
    )
    return frozenset(rows)


def _customer_uses(session: Session, customer_id: str, ids: Sequence[str]) -> dict[str, int]:
    stmt = (
        select(RedemptionRow.promotion_id, func.count())
        .where(
            RedemptionRow.customer_id == customer_id,
            RedemptionRow.status == "recorded",
            RedemptionRow.promotion_id.in_(ids),
        )
        .group_by(RedemptionRow.promotion_id)
    )
    return {str(pid): int(count) for pid, count in session.execute(stmt)}


def quote(session: Session, basket_input: BasketInput, *, at: datetime) -> PricedBasket:
    """Price a basket with the promotions in force at ``at``; read-only, the same on every
    channel. Prices given in the lines win over the catalogue's base prices."""
    currency = check_currency(basket_input.currency)
    basket_input = replace(basket_input, currency=currency)
    lines = _lines(session, basket_input)
    active = active_promotions(session)
    out: dict[str, str] = dict(active.exhausted)
    if basket_input.customer_id and active.per_customer:
        uses = _customer_uses(session, basket_input.customer_id, list(active.per_customer))
        for pid, limit in active.per_customer.items():
            if uses.get(pid, 0) >= limit:
                out.setdefault(pid, f"this customer already used it {limit} time(s)")
    context = Context(
        at=at,
        channel=basket_input.channel,
        store_id=basket_input.store_id,
        territory=basket_input.territory,
        segments=basket_input.segments | _segments(session, basket_input.customer_id),
        tier=basket_input.tier,
        coupons=frozenset(normalise_coupon(c) for c in basket_input.coupons),
        first_order=basket_input.first_order,
        shipping_minor=basket_input.shipping_minor,
    )
    usable = [p for p in active.promotions if p.id not in out]
    priced = price_basket(Basket(currency, lines, context), usable)
    if not out:
        return priced
    gone = tuple(NotApplied(p.id, p.name, out[p.id]) for p in active.promotions if p.id in out)
    return replace(priced, not_applied=priced.not_applied + gone)


# ---------------------------------------------------------------------------------------------
# Redeem and release
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redemption:
    id: str
    promotion_id: str
    order_id: str
    customer_id: str | None
    currency: str
    amount_minor: int
    bonus_points: int
    status: str


def _redemption(row: RedemptionRow) -> Redemption:
    return Redemption(
        row.id,
        row.promotion_id,
        row.order_id,
        row.customer_id,
        row.currency,
        row.amount_minor,
        row.bonus_points,
        row.status,
    )


def _refused(session: Session, promotion_id: str, amount: int) -> Conflict:
    row = session.get(PromotionRow, promotion_id, populate_existing=True)
    if row is None:
        return Conflict(f"Promotion {promotion_id} no longer exists; quote the basket again.")
    why = _exhausted(row)
    if row.status != "active":
        why = f"it is {row.status}"
    elif why is None and row.budget_minor is not None:
        left = Money(row.budget_minor - row.spent_minor, row.currency or "EUR")
        why = f"only {left} of its budget is left, this order needs {Money(amount, left.currency)}"
    return Conflict(
        f"Promotion {row.id} ({row.name}) cannot be used: {why}. Quote the basket again "
        "to price it without this promotion.",
        code="promotion-exhausted",
        promotion_id=row.id,
    )


def _consume(uow: UnitOfWork, promotion_id: str, amount: int) -> PromotionRow:
    """One conditional UPDATE: the use and the money are taken only if the limits allow."""
    p = PromotionRow
    result = uow.session.execute(
        update(p)
        .where(
            p.id == promotion_id,
            p.status == "active",
            or_(p.max_redemptions.is_(None), p.redemptions + 1 <= p.max_redemptions),
            or_(p.budget_minor.is_(None), p.spent_minor + amount <= p.budget_minor),
        )
        .values(redemptions=p.redemptions + 1, spent_minor=p.spent_minor + amount)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _refused(uow.session, promotion_id, amount)
    # the UPDATE holds the row until commit: what is read now is what this order changed
    row = uow.session.get(PromotionRow, promotion_id, populate_existing=True)
    assert row is not None
    return row


def _check_customer(uow: UnitOfWork, row: PromotionRow, customer_id: str | None) -> None:
    if customer_id is None or row.max_per_customer is None:
        return
    used = _customer_uses(uow.session, customer_id, [row.id]).get(row.id, 0)
    if used >= row.max_per_customer:
        raise Conflict(
            f"Customer {customer_id} already used promotion {row.id} ({row.name}) "
            f"{used} time(s), its limit per customer; quote the basket again without it.",
            code="promotion-limit-per-customer",
            promotion_id=row.id,
            customer_id=customer_id,
        )


def redeem(
    uow: UnitOfWork, priced: PricedBasket, *, order_id: str, customer_id: str | None
) -> list[Redemption]:
    """Record the promotions ``priced`` applied as used by the order, consuming their uses and
    budgets atomically; 409 ``promotion-exhausted`` names the first one that cannot be used
    (the caller's unit of work then rolls back, so nothing is consumed). Idempotent per order."""
    existing = {
        row.promotion_id: row
        for row in uow.session.scalars(
            select(RedemptionRow).where(RedemptionRow.order_id == order_id)
        )
    }
    redeemed: list[Redemption] = []
    for applied in sorted(priced.applied, key=lambda a: a.promotion_id):  # one lock order
        seen = existing.get(applied.promotion_id)
        if seen is not None and seen.status == "recorded":
            redeemed.append(_redemption(seen))
            continue
        row = _consume(uow, applied.promotion_id, applied.discount_minor)
        _check_customer(uow, row, customer_id)
        now = uow.now()
        if seen is not None:  # released before, used again by the same order
            red = seen
            red.status, red.released_at, red.created_at = "recorded", None, now
            red.amount_minor, red.bonus_points = applied.discount_minor, applied.bonus_points
        else:
            red = RedemptionRow(
                id=new_id("rdm"),
                promotion_id=row.id,
                order_id=order_id,
                customer_id=customer_id,
                currency=priced.currency,
                amount_minor=applied.discount_minor,
                bonus_points=applied.bonus_points,
                coupon_code=applied.coupon,
                status="recorded",
                created_at=now,
                released_at=None,
            )
            uow.session.add(red)
        uow.emit(
            RedemptionRecorded(
                promotion_id=row.id,
                redemption_id=red.id,
                order_id=order_id,
                customer_id=customer_id,
                currency=priced.currency,
                amount_minor=red.amount_minor,
                bonus_points=red.bonus_points,
                coupon_code=red.coupon_code,
            )
        )
        if _exhausted(row):
            uow.emit(
                BudgetExhausted(
                    promotion_id=row.id,
                    name=row.name,
                    redemptions=row.redemptions,
                    max_redemptions=row.max_redemptions,
                    spent_minor=row.spent_minor,
                    budget_minor=row.budget_minor,
                )
            )
            invalidate_cache()
        redeemed.append(_redemption(red))
    return redeemed


def release(uow: UnitOfWork, order_id: str) -> list[Redemption]:
    """The order was cancelled: give back its uses and budgets. Idempotent."""
    rows = uow.session.scalars(
        select(RedemptionRow)
        .where(RedemptionRow.order_id == order_id, RedemptionRow.status == "recorded")
        .order_by(RedemptionRow.promotion_id)
        .with_for_update()
    ).all()
    released = []
    now = uow.now()
    for red in rows:
        p = PromotionRow
        uow.session.execute(
            update(p)
            .where(p.id == red.promotion_id)
            .values(redemptions=p.redemptions - 1, spent_minor=p.spent_minor - red.amount_minor)
            .execution_options(synchronize_session=False)
        )
        red.status, red.released_at = "released", now
        uow.emit(
            RedemptionReleased(
                promotion_id=red.promotion_id,
                redemption_id=red.id,
                order_id=order_id,
                customer_id=red.customer_id,
                currency=red.currency,
                amount_minor=red.amount_minor,
                bonus_points=red.bonus_points,
            )
        )
        released.append(_redemption(red))
    if released:
        invalidate_cache()
    return released
