"""/v1/loyalty: one account and points ledger for every channel (earn, redeem, reverse, KPIs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Channel, Principal
from omnicanal.loyalty import service, views
from omnicanal.loyalty.model import TIER_CURRENCY, EarnLine, RefType
from omnicanal.loyalty.tables import (
    LoyaltyAccountRow,
    LoyaltyMovementRow,
    LoyaltyPurchaseRow,
    LoyaltyRedemptionRow,
)
from omnicanal.shared.errors import Forbidden, InvalidInput
from omnicanal.shared.money import Money, check_currency
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(prefix="/loyalty", tags=["loyalty"])
ReadKey = Annotated[Principal, Depends(require("loyalty:read"))]
LoyaltyWrite = Annotated[Write, Depends(writer("loyalty:write"))]

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class MoneyOut(BaseModel):
    amount: str = Field(examples=["19.99"], description="A decimal string, never a float.")
    currency: str = Field(examples=["EUR"])


def _money(minor: int, currency: str) -> MoneyOut:
    return MoneyOut(amount=str(Money(minor, currency).amount), currency=currency)


class AccountOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str | None = Field(default=None, max_length=40)
    card: str | None = Field(
        default=None,
        max_length=60,
        description="A loyalty card number (an unknown card opens a profile).",
    )


class ExpiringOut(BaseModel):
    points: int
    expires_at: datetime


class AccountPublic(BaseModel):
    id: str
    customer_id: str | None
    status: str
    balance: int = Field(description="Points; the sum of the ledger's movements, never negative.")
    value: MoneyOut = Field(description="What the balance pays for (100 points = 1.00 EUR).")
    tier: str
    tier_since: datetime
    spend_12_months: MoneyOut = Field(description="Rolling spend that sets the tier.")
    next_tier: str | None
    to_next_tier: MoneyOut | None
    next_expiry: ExpiringOut | None
    created_at: datetime


class MovementPublic(BaseModel):
    id: str
    account_id: str
    origin_account_id: str = Field(description="The account it was written to (before merges).")
    kind: str
    points: int
    reference: dict[str, str] = Field(description='Typed: {"type": "till_sale", "id": "42"}.')
    channel: str
    store_id: str | None
    remaining: int = Field(description="For a lot (earn, credit): points it still holds.")
    expires_at: datetime | None
    detail: dict[str, Any]
    created_at: datetime


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=999)
    unit_price: str = Field(examples=["19.99"], description="Decimal string.")
    category: str | None = Field(default=None, max_length=200)


class EarnIn(BaseModel):
    """A sale to earn on: a till syncing an offline sale, or a channel's own order."""

    model_config = ConfigDict(extra="forbid")
    channel: Channel | None = Field(
        default=None, description="The key's channel if absent; only admin keys may give another."
    )
    ref_type: Literal["till_sale", "order"] = "till_sale"
    external_ref: str = Field(
        min_length=1,
        max_length=100,
        description="The channel's own number for the sale: the same one twice earns once.",
    )
    amount: str = Field(examples=["59.90"], description="What the customer paid; decimal string.")
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    lines: list[LineIn] = Field(default_factory=list, max_length=200)
    customer_id: str | None = Field(default=None, max_length=40)
    card: str | None = Field(default=None, max_length=60)
    store_id: str | None = Field(default=None, max_length=40)
    bonus_points: StrictInt = Field(
        default=0, ge=0, le=1_000_000, description="Points a promotion granted on this sale."
    )
    occurred_at: datetime | None = Field(default=None, description="When the sale happened.")


class PurchasePublic(BaseModel):
    id: str
    channel: str
    reference: dict[str, str]
    store_id: str | None
    identified: bool
    customer_id: str | None
    account_id: str | None
    amount: MoneyOut
    points_earned: int
    occurred_at: datetime


class EarnOut(BaseModel):
    purchase: PurchasePublic
    movement: MovementPublic | None
    balance: int | None
    tier: str | None
    replayed: bool = Field(description="This sale was already synced: nothing changed.")


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: StrictInt = Field(ge=1, le=10_000_000)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    purpose: Literal["payment", "reward"] = "payment"
    reward: str | None = Field(default=None, max_length=100)
    store_id: str | None = Field(default=None, max_length=40)
    external_ref: str | None = Field(
        default=None, max_length=100, description="The channel's payment attempt: burns once."
    )


class RedemptionPublic(BaseModel):
    id: str
    account_id: str
    points: int
    value: MoneyOut
    purpose: str
    reward: str | None
    payment: dict[str, str] = Field(
        description="Record it on the order: POST /v1/orders/{id}/payments with this body."
    )
    channel: str
    store_id: str | None
    order_id: str | None
    status: str
    balance: int
    created_at: datetime
    refunded_at: datetime | None


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300)


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: StrictInt = Field(description="Positive credits a new lot; negative debits.")
    reason: str = Field(min_length=1, max_length=300)
    reference: str = Field(min_length=1, max_length=100, description="Once per reference.")


class BasketOut(BaseModel):
    purchases: int
    revenue: MoneyOut
    average_basket: MoneyOut | None


class IdentificationOut(BaseModel):
    channel: str | None
    store_id: str | None
    since: datetime | None
    until: datetime | None
    purchases: int
    identification_rate: str | None = Field(description="Identified / all, a decimal string.")
    identified: BasketOut
    anonymous: BasketOut


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _account(session: Any, row: LoyaltyAccountRow, now: datetime) -> AccountPublic:
    s = views.summary(session, row, now)
    return AccountPublic(
        id=row.id,
        customer_id=row.customer_id,
        status=row.status,
        balance=row.balance,
        value=_money(row.balance, TIER_CURRENCY),
        tier=row.tier,
        tier_since=row.tier_since,
        spend_12_months=_money(s.spend_minor, TIER_CURRENCY),
        next_tier=s.next_tier.value if s.next_tier else None,
        to_next_tier=(
            _money(s.to_next_tier_minor, TIER_CURRENCY)
            if s.to_next_tier_minor is not None
            else None
        ),
        next_expiry=(
            ExpiringOut(points=s.next_expiry.points, expires_at=s.next_expiry.expires_at)
            if s.next_expiry
            else None
        ),
        created_at=row.created_at,
    )


def _movement(row: LoyaltyMovementRow) -> MovementPublic:
    return MovementPublic(
        id=row.id,
        account_id=row.account_id,
        origin_account_id=row.origin_account_id,
        kind=row.kind,
        points=row.points,
        reference={"type": row.ref_type, "id": row.ref_id},
        channel=row.channel,
        store_id=row.store_id,
        remaining=row.remaining,
        expires_at=row.expires_at,
        detail=row.detail,
        created_at=row.created_at,
    )


def _purchase(row: LoyaltyPurchaseRow) -> PurchasePublic:
    return PurchasePublic(
        id=row.id,
        channel=row.channel,
        reference={"type": row.ref_type, "id": row.ref_id},
        store_id=row.store_id,
        identified=row.identified,
        customer_id=row.customer_id,
        account_id=row.account_id,
        amount=_money(row.amount_minor, row.currency),
        points_earned=row.points_earned,
        occurred_at=row.occurred_at,
    )


def _redemption(row: LoyaltyRedemptionRow, balance: int) -> RedemptionPublic:
    value = _money(row.value_minor, row.currency)
    return RedemptionPublic(
        id=row.id,
        account_id=row.account_id,
        points=row.points,
        value=value,
        purpose=row.purpose,
        reward=row.reward,
        payment={
            "kind": "captured",
            "provider": "loyalty",
            "reference": row.id,
            "amount": value.amount,
        },
        channel=row.channel,
        store_id=row.store_id,
        order_id=row.order_id,
        status=row.status,
        balance=balance,
        created_at=row.created_at,
        refunded_at=row.refunded_at,
    )


def _store(principal: Principal, store_id: str | None) -> str | None:
    if store_id is not None:
        check_store(principal, store_id)
        return store_id
    return principal.store_id


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@router.post("/accounts", status_code=201, response_model=AccountPublic)
def open_account(body: AccountOpen, write: LoyaltyWrite) -> object:
    """The customer's account (by profile id or card number), opened if they have none."""
    if (body.customer_id is None) == (body.card is None):
        raise InvalidInput("Give customer_id or card, one of them.", field="customer_id")

    def use_case(uow: UnitOfWork) -> AccountPublic:
        customer_id = body.customer_id
        if body.card is not None:
            customer_id = service.customer_of_card(uow.session, body.card)
            if customer_id is None:
                customer_id = service.identify_card(
                    uow, body.card, write.principal.channel.value, "loyalty-account"
                )
        assert customer_id is not None
        row = service.open_account(uow, customer_id=customer_id)
        uow.session.flush()
        return _account(uow.session, row, uow.now())

    return write.run(use_case, status_code=201)


@router.get("/accounts", response_model=AccountPublic)
def find_account(
    db: DbDep,
    _: ReadKey,
    customer_id: Annotated[str | None, Query(max_length=40)] = None,
    card: Annotated[str | None, Query(max_length=60, description="Loyalty card number.")] = None,
) -> object:
    """The account of a customer known by profile id or by loyalty card number."""
    with db.read() as session:
        row = service.find_account(session, customer_id=customer_id, card=card)
        return _account(session, row, db.clock.now())


@router.get("/accounts/{account_id}", response_model=AccountPublic)
def get_account(account_id: str, db: DbDep, _: ReadKey) -> object:
    """An account (a merged account's id answers with the survivor's account)."""
    with db.read() as session:
        return _account(session, service.get_account(session, account_id), db.clock.now())


@router.get("/accounts/{account_id}/movements", response_model=Page[MovementPublic])
def list_movements(
    account_id: str,
    db: DbDep,
    _: ReadKey,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    """The points ledger, oldest first; every movement names its typed reference."""
    with db.read() as session:
        account = service.get_account(session, account_id)
        rows, next_cursor = views.movements(session, account.id, cursor=cursor, limit=limit)
        return Page[MovementPublic](data=[_movement(r) for r in rows], next_cursor=next_cursor)


@router.post("/earn", status_code=201, response_model=EarnOut)
def earn(body: EarnIn, write: LoyaltyWrite) -> object:
    """Record a completed sale (a till syncing offline sales, or a channel's own order) and earn
    its points: 1 point per euro paid, times the tier's multiplier, plus promotion bonus points.
    Anonymous sales (no customer, no card) are recorded for the identification KPIs. Idempotent
    by (channel, ref_type, external_ref): a retried sync replays the first answer
    (``replayed: true``)."""
    principal = write.principal
    channel = body.channel.value if body.channel else principal.channel.value
    if channel != principal.channel.value and principal.channel is not Channel.ADMIN:
        raise Forbidden(
            f"A {principal.channel.value} key syncs its own sales; channel {channel} needs an "
            "admin key.",
            code="wrong-channel",
            field="channel",
        )
    if body.customer_id is not None and body.card is not None:
        raise InvalidInput("Give customer_id or card, not both.", field="card")
    currency = check_currency(body.currency)
    amount = Money.of(body.amount, currency, field="amount")
    lines = [
        EarnLine(
            sku=line.sku,
            quantity=line.quantity,
            unit_price_minor=Money.of(
                line.unit_price, currency, field=f"lines[{i}].unit_price"
            ).minor,
            category=line.category,
        )
        for i, line in enumerate(body.lines)
    ]
    store_id = _store(principal, body.store_id)

    def use_case(uow: UnitOfWork) -> EarnOut:
        outcome = service.record_purchase(
            uow,
            channel=channel,
            ref_type=RefType(body.ref_type),
            ref_id=body.external_ref,
            amount=amount,
            lines=lines,
            customer_id=body.customer_id,
            card=body.card,
            store_id=store_id,
            bonus_points=body.bonus_points,
            occurred_at=body.occurred_at,
        )
        uow.session.flush()
        account = outcome.account
        return EarnOut(
            purchase=_purchase(outcome.purchase),
            movement=_movement(outcome.movement) if outcome.movement else None,
            balance=account.balance if account else None,
            tier=account.tier if account else None,
            replayed=outcome.replayed,
        )

    return write.run(use_case, status_code=201)


@router.post("/accounts/{account_id}/redemptions", status_code=201, response_model=RedemptionPublic)
def redeem(account_id: str, body: RedemptionIn, write: LoyaltyWrite) -> object:
    """Spend points at the till, on the web or in the app: as a payment (100 points = 1.00 EUR;
    record the returned ``payment`` on the order, provider ``loyalty``) or for a reward. More
    points than the balance is a 409 carrying the ``balance``."""
    store_id = _store(write.principal, body.store_id)

    def use_case(uow: UnitOfWork) -> RedemptionPublic:
        row = service.redeem(
            uow,
            account_id=account_id,
            points=body.points,
            currency=body.currency,
            channel=write.principal.channel.value,
            store_id=store_id,
            purpose=body.purpose,
            reward=body.reward,
            external_ref=body.external_ref,
        )
        account = uow.session.get_one(LoyaltyAccountRow, row.account_id)
        return _redemption(row, account.balance)

    return write.run(use_case, status_code=201)


@router.get("/redemptions/{redemption_id}", response_model=RedemptionPublic)
def get_redemption(redemption_id: str, db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        row = service.get_redemption(session, redemption_id)
        account = service.get_account(session, row.account_id)
        return _redemption(row, account.balance)


@router.post("/redemptions/{redemption_id}/refund", response_model=RedemptionPublic)
def refund_redemption(redemption_id: str, body: RefundIn, write: LoyaltyWrite) -> object:
    """Give the points back (the sale was abandoned); they return to their lots and expiry."""

    def use_case(uow: UnitOfWork) -> RedemptionPublic:
        made_at = service.get_redemption(uow.session, redemption_id).store_id
        if made_at is not None:  # a store's till refunds its own store's redemptions
            check_store(write.principal, made_at)
        row = service.refund_redemption(
            uow, redemption_id, channel=write.principal.channel.value, reason=body.reason
        )
        account = service.get_account(uow.session, row.account_id)
        return _redemption(row, account.balance)

    return write.run(use_case)


@router.post("/accounts/{account_id}/adjustments", status_code=201, response_model=MovementPublic)
def adjust(account_id: str, body: AdjustmentIn, write: LoyaltyWrite) -> object:
    """Head office credits or debits an account (goodwill, a correction); admin keys only."""
    if write.principal.channel is not Channel.ADMIN:
        raise Forbidden("Adjustments are made by head office; use an admin key.", code="admin-only")

    def use_case(uow: UnitOfWork) -> MovementPublic:
        row = service.adjust(
            uow,
            account_id=account_id,
            points=body.points,
            reason=body.reason,
            reference=body.reference,
            channel=write.principal.channel.value,
        )
        return _movement(row)

    return write.run(use_case, status_code=201)


@router.get("/identification", response_model=IdentificationOut)
def identification(
    db: DbDep,
    _: ReadKey,
    channel: str | None = None,
    store_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    currency: Annotated[str, Query(min_length=3, max_length=3)] = TIER_CURRENCY,
) -> object:
    """Identification rate (identified completed purchases / all) and the average basket of
    identified vs anonymous customers, per channel, store and period (sale time, [since,
    until)), net of refunds."""
    code = check_currency(currency, field="currency")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone (e.g. 2026-11-01T00:00:00Z).", field=name)
    with db.read() as session:
        figures = views.identification(
            session, currency=code, channel=channel, store_id=store_id, since=since, until=until
        )

    def basket(b: views.BasketFigures) -> BasketOut:
        avg = b.average_minor
        return BasketOut(
            purchases=b.purchases,
            revenue=_money(b.revenue_minor, code),
            average_basket=_money(avg, code) if avg is not None else None,
        )

    rate = figures.rate
    return IdentificationOut(
        channel=channel,
        store_id=store_id,
        since=since,
        until=until,
        purchases=figures.purchases,
        identification_rate=str(rate) if rate is not None else None,
        identified=basket(figures.identified),
        anonymous=basket(figures.anonymous),
    )
