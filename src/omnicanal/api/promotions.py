"""/v1/promotions: define promotions, quote a basket with them, check a coupon."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.auth.model import Principal
from omnicanal.promotions import service, views
from omnicanal.promotions.model import Action, ActionKind, Conditions, Scope
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.money import Money, check_currency
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["promotions"])

ReadKey = Annotated[Principal, Depends(require("promotions:read"))]
ManageWrite = Annotated[Write, Depends(writer("promotions:manage"))]
Names = list[Annotated[str, Field(min_length=1, max_length=64)]]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ActionKind
    scope: Scope = Scope.LINES
    percent: Decimal | None = Field(default=None, gt=0, le=100, examples=["15"])
    amount: str | None = Field(default=None, description="Decimal string, amount_off.")
    price: str | None = Field(default=None, description="Decimal string, fixed_price.")
    buy: StrictInt = Field(default=0, ge=0, le=100)
    get: StrictInt = Field(default=0, ge=0, le=100)
    points: StrictInt = Field(default=0, ge=0, le=1_000_000)


class ConditionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: Names = Field(default_factory=list, examples=[["pos"]])
    stores: Names = Field(default_factory=list)
    territories: Names = Field(default_factory=list, examples=[["FR"]])
    segments: Names = Field(default_factory=list, description="Segment ids (seg_…).")
    tiers: Names = Field(default_factory=list, examples=[["gold"]])
    skus: Names = Field(default_factory=list)
    categories: Names = Field(default_factory=list)
    min_quantity: StrictInt = Field(default=0, ge=0, le=1000)
    min_subtotal: str | None = Field(default=None, description="Decimal string, before discounts.")
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    coupon: str | None = Field(default=None, min_length=3, max_length=64)
    first_order: bool = False


class PromotionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Black Friday -20% shoes"])
    description: str = Field(default="", max_length=2000)
    status: str = Field(default="active", description="active, paused or archived")
    priority: StrictInt = Field(default=0, ge=-1000, le=1000, description="Higher applies first.")
    exclusive: bool = False
    stackable: bool = True
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    store_id: str | None = Field(default=None, description="A store's own promotion.")
    conditions: ConditionsIn = Field(default_factory=ConditionsIn)
    actions: list[ActionIn] = Field(min_length=1, max_length=10)
    max_redemptions: StrictInt | None = Field(default=None, ge=1)
    max_per_customer: StrictInt | None = Field(default=None, ge=1)
    budget: str | None = Field(default=None, description="The most it may discount, in total.")


class PromotionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: str | None = None
    priority: StrictInt | None = Field(default=None, ge=-1000, le=1000)
    exclusive: bool | None = None
    stackable: bool | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    conditions: ConditionsIn | None = None
    actions: list[ActionIn] | None = Field(default=None, min_length=1, max_length=10)
    max_redemptions: StrictInt | None = Field(default=None, ge=1)
    max_per_customer: StrictInt | None = Field(default=None, ge=1)
    budget: str | None = None


class QuoteLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(gt=0, le=999)


class QuoteIn(BaseModel):
    """Prices come from the catalogue (base price in the currency); the channel from the key."""

    model_config = ConfigDict(extra="forbid")
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    lines: list[QuoteLine] = Field(min_length=1, max_length=200)
    customer_id: str | None = Field(default=None, max_length=40)
    store_id: str | None = Field(default=None, description="The selling store (tills: the key's).")
    territory: str | None = Field(default=None, max_length=20)
    segments: Names = Field(default_factory=list)
    tier: str | None = Field(default=None, max_length=40, description="The loyalty tier.")
    coupons: Names = Field(default_factory=list, max_length=10)
    first_order: bool = False
    shipping: str | None = Field(default=None, description="Shipping amount, decimal string.")


def _minor(value: str | None, currency: str | None, field: str) -> int | None:
    if value is None:
        return None
    if currency is None:
        raise InvalidInput(f"{field} is an amount: give the promotion's currency.", field=field)
    return Money.of(value, currency, field=field).minor


def _actions(items: list[ActionIn], currency: str | None) -> tuple[Action, ...]:
    return tuple(
        Action(
            kind=a.kind,
            scope=a.scope,
            percent=a.percent or Decimal(0),
            amount_minor=_minor(a.amount, currency, f"actions[{n}].amount") or 0,
            price_minor=_minor(a.price, currency, f"actions[{n}].price") or 0,
            buy=a.buy,
            get=a.get,
            points=a.points,
        )
        for n, a in enumerate(items)
    )


def _conditions(c: ConditionsIn, currency: str | None) -> Conditions:
    return Conditions(
        channels=frozenset(c.channels),
        stores=frozenset(c.stores),
        territories=frozenset(c.territories),
        segments=frozenset(c.segments),
        tiers=frozenset(c.tiers),
        skus=frozenset(c.skus),
        categories=frozenset(c.categories),
        min_quantity=c.min_quantity,
        min_subtotal_minor=_minor(c.min_subtotal, currency, "conditions.min_subtotal") or 0,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        coupon=c.coupon,
        first_order=c.first_order,
    )


@router.post("/promotions", status_code=201, summary="Define a promotion")
def create_promotion(body: PromotionCreate, write: ManageWrite) -> object:
    """A store-bound key (a till's) defines its own store's promotions only."""
    currency = check_currency(body.currency) if body.currency else None
    draft = service.PromotionDraft(
        name=body.name,
        description=body.description,
        status=body.status,
        priority=body.priority,
        exclusive=body.exclusive,
        stackable=body.stackable,
        currency=currency,
        store_id=body.store_id,
        conditions=_conditions(body.conditions, currency),
        actions=_actions(body.actions, currency),
        max_redemptions=body.max_redemptions,
        max_per_customer=body.max_per_customer,
        budget_minor=_minor(body.budget, currency, "budget"),
    )

    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        row = service.create_promotion(
            uow, draft, acting_store=write.principal.store_id, actor=write.principal.key_id
        )
        uow.session.flush()
        return views.promotion_view(row)

    return write.run(use_case, status_code=201)


@router.get("/promotions", summary="List promotions")
def list_promotions(
    db: DbDep,
    _: ReadKey,
    status: str | None = None,
    store_id: str | None = None,
    coupon: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    with db.read() as session:
        data, next_cursor = views.list_promotions(
            session, status=status, store_id=store_id, coupon=coupon, cursor=cursor, limit=limit
        )
    return {"data": data, "next_cursor": next_cursor}


@router.post("/promotions/quote", summary="Price a basket with the promotions in force")
def quote(body: QuoteIn, db: DbDep, principal: ReadKey) -> object:
    """Read-only, so no Idempotency-Key. Every channel gets the same answer for the same basket
    unless a promotion names the channel; each line says which promotion took how much, and
    ``not_applied`` says why the others did not apply."""
    currency = check_currency(body.currency)
    basket = service.BasketInput(
        currency=currency,
        lines=tuple(service.LineInput(line.sku, line.quantity) for line in body.lines),
        channel=principal.channel.value,
        store_id=principal.store_id or body.store_id,
        territory=body.territory,
        customer_id=body.customer_id,
        segments=frozenset(body.segments),
        tier=body.tier,
        coupons=frozenset(body.coupons),
        first_order=body.first_order,
        shipping_minor=_minor(body.shipping, currency, "shipping") or 0,
    )
    with db.read() as session:
        priced = service.quote(session, basket, at=db.clock.now())
    return views.priced_view(priced)


@router.get("/promotions/coupons/{code}", summary="Is this coupon code valid now?")
def check_coupon(code: str, db: DbDep, _: ReadKey) -> object:
    """``valid`` when at least one active promotion with this code is in its window and not used
    up; the basket's other conditions are checked by the quote."""
    now = db.clock.now()
    with db.read() as session:
        rows = views.coupon_promotions(session, code)
        if not rows:
            raise NotFound(
                f"No promotion has the coupon code {code.strip().upper()!r}; check the spelling.",
                field="code",
            )
        states = [(row, views.coupon_state(row, now)) for row in rows]
    return {
        "code": code.strip().upper(),
        "valid": any(state == "valid" for _, state in states),
        "promotions": [
            {"id": row.id, "name": row.name, "state": state, "store_id": row.store_id}
            for row, state in states
        ],
    }


@router.get("/promotions/{promotion_id}", summary="One promotion, with its usage")
def get_promotion(promotion_id: str, db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        return views.promotion_view(service.get_promotion(session, promotion_id))


@router.patch("/promotions/{promotion_id}", summary="Change a promotion")
def change_promotion(promotion_id: str, body: PromotionUpdate, write: ManageWrite) -> object:
    """Only the fields given change; the usage counters are kept."""
    given = body.model_dump(exclude_unset=True)

    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        row = service.get_promotion(uow.session, promotion_id)
        currency = row.currency
        if "currency" in given:
            currency = check_currency(body.currency) if body.currency else None
        changes: dict[str, Any] = {
            k: v for k, v in given.items() if k not in ("conditions", "actions", "budget")
        }
        if "currency" in changes:
            changes["currency"] = currency
        if body.conditions is not None:
            changes["conditions"] = _conditions(body.conditions, currency)
        if body.actions is not None:
            changes["actions"] = _actions(body.actions, currency)
        if "budget" in given:
            changes["budget_minor"] = _minor(body.budget, currency, "budget")
        for nullable in ("name", "status", "priority", "exclusive", "stackable", "description"):
            if nullable in changes and changes[nullable] is None:
                raise InvalidInput(f"{nullable} cannot be null.", field=nullable)
        row = service.change_promotion(
            uow, promotion_id, changes, acting_store=write.principal.store_id
        )
        uow.session.flush()
        return views.promotion_view(row)

    return write.run(use_case)
