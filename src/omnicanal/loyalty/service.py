"""Loyalty use cases: open accounts, earn on purchases, redeem, reverse, expire, adjust.

Every function takes the caller's ``UnitOfWork`` and never commits. The account row is locked
(``FOR UPDATE`` on PostgreSQL; SQLite serialises writers) before its balance or lots change, so
two tills spending the same points concurrently cannot overdraw it.

Idempotency: a purchase is unique by (channel, ref_type, ref_id) and every ledger movement that
answers a reference carries a unique ``dedup_key``. A till retrying an offline sync, even
concurrently, gets the first purchase and its earn movement back: the loser's insert of the
purchase claim fails inside a savepoint and the call replays the winner's row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.loyalty import events as ev
from omnicanal.loyalty.model import (
    DEFAULT_RULES,
    PURCHASE_REF_TYPES,
    TIER_CURRENCY,
    TIER_WINDOW,
    EarnLine,
    EarnRules,
    Lot,
    MovementKind,
    RefType,
    Tier,
    check_points,
    expiry_of,
    quote_earn,
    redemption_value_minor,
    share_of,
    take_from_lots,
    tier_for_spend,
)
from omnicanal.loyalty.tables import (
    LoyaltyAccountRow,
    LoyaltyLotUseRow,
    LoyaltyMovementRow,
    LoyaltyPurchaseRow,
    LoyaltyRedemptionRow,
    LoyaltyRefundRow,
)
from omnicanal.shared.errors import Conflict, Gone, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money
from omnicanal.storage.uow import UnitOfWork

_CLOCK_SKEW = timedelta(minutes=5)
MAX_SYNC_AGE = timedelta(days=90)  # a till syncing an older sale gets a clear refusal


# ---------------------------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------------------------


def _account_not_found(what: str, **ext: Any) -> NotFound:
    return NotFound(
        f"No loyalty account for {what}; an account opens with the customer's first earn or "
        "with POST /v1/loyalty/accounts.",
        code="loyalty-account-not-found",
        **ext,
    )


def _follow(session: Session, row: LoyaltyAccountRow) -> LoyaltyAccountRow:
    for _ in range(20):
        if row.status != "merged" or row.merged_into is None:
            return row
        nxt = session.get(LoyaltyAccountRow, row.merged_into)
        if nxt is None:
            break
        row = nxt
    return row


def get_account(session: Session, account_id: str, *, lock: bool = False) -> LoyaltyAccountRow:
    """The account ``account_id`` names now (a merged account answers with its survivor)."""
    row = session.get(LoyaltyAccountRow, account_id)
    if row is None:
        raise _account_not_found(account_id, field="account_id", account_id=account_id)
    row = _follow(session, row)
    if row.status == "erased":
        raise Gone(
            f"Loyalty account {account_id} belonged to an erased customer; it is closed.",
            code="loyalty-account-erased",
            account_id=account_id,
        )
    return _lock(session, row.id) if lock else row


def _lock(session: Session, account_id: str) -> LoyaltyAccountRow:
    return session.scalars(
        select(LoyaltyAccountRow)
        .where(LoyaltyAccountRow.id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def customer_of_card(session: Session, card: str) -> str | None:
    """The live profile a loyalty card number identifies, if any."""
    from omnicanal.customers.model import normalise_card
    from omnicanal.customers.service import resolve
    from omnicanal.customers.tables import CustomerIdentifierRow

    value = normalise_card(card, field_name="card")
    profile_id = session.scalar(
        select(CustomerIdentifierRow.profile_id).where(
            CustomerIdentifierRow.kind == "loyalty_card", CustomerIdentifierRow.value == value
        )
    )
    return resolve(session, profile_id).id if profile_id else None


def find_account(
    session: Session, *, customer_id: str | None = None, card: str | None = None
) -> LoyaltyAccountRow:
    """The account of a customer, known by profile id (merged ids follow their survivor) or by
    a loyalty card number (an identifier of the profile)."""
    from omnicanal.customers.service import resolve_live

    if (customer_id is None) == (card is None):
        raise InvalidInput("Give customer_id or card, one of them.", field="customer_id")
    if card is not None:
        found = customer_of_card(session, card)
        if found is None:
            raise _account_not_found(f"card {card}", field="card")
        customer_id = found
    assert customer_id is not None
    live = resolve_live(session, customer_id).id
    row = session.scalars(
        select(LoyaltyAccountRow).where(LoyaltyAccountRow.customer_id == live)
    ).first()
    if row is None:
        raise _account_not_found(f"customer {customer_id}", customer_id=customer_id)
    return _follow(session, row)


def open_account(uow: UnitOfWork, *, customer_id: str) -> LoyaltyAccountRow:
    """The customer's account, opened if they have none (two concurrent opens end with one)."""
    from omnicanal.customers.service import resolve_live

    session = uow.session
    live = resolve_live(session, customer_id).id
    stmt = select(LoyaltyAccountRow).where(LoyaltyAccountRow.customer_id == live)
    row = session.scalars(stmt).first()
    if row is not None:
        return row
    now = uow.now()
    try:
        with session.begin_nested():
            row = LoyaltyAccountRow(
                id=new_id("lya"),
                customer_id=live,
                status="active",
                balance=0,
                tier=Tier.BASIC.value,
                created_at=now,
                updated_at=now,
                tier_since=now,
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        row = session.scalars(stmt).one()
    return row


# ---------------------------------------------------------------------------------------------
# Ledger primitives
# ---------------------------------------------------------------------------------------------


def _lots(session: Session, account_id: str) -> list[LoyaltyMovementRow]:
    return list(
        session.scalars(
            select(LoyaltyMovementRow)
            .where(LoyaltyMovementRow.account_id == account_id, LoyaltyMovementRow.remaining > 0)
            .order_by(LoyaltyMovementRow.expires_at, LoyaltyMovementRow.id)
        )
    )


def _movement(
    uow: UnitOfWork,
    account: LoyaltyAccountRow,
    *,
    kind: MovementKind,
    points: int,
    ref_type: RefType,
    ref_id: str,
    channel: str,
    store_id: str | None = None,
    dedup_key: str | None = None,
    expires_at: datetime | None = None,
    detail: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> LoyaltyMovementRow:
    """Append one movement and move the balance; a credit that is a lot holds its points."""
    if account.balance + points < 0:  # the owner refuses, whatever the caller checked
        raise Conflict(
            f"The account holds {account.balance} points; {-points} cannot be taken.",
            code="insufficient-points",
            balance=account.balance,
        )
    row = LoyaltyMovementRow(
        id=new_id("lym"),
        account_id=account.id,
        origin_account_id=account.id,
        kind=kind.value,
        points=points,
        ref_type=ref_type.value,
        ref_id=ref_id,
        channel=channel,
        store_id=store_id,
        remaining=points if expires_at is not None and points > 0 else 0,
        expires_at=expires_at,
        dedup_key=dedup_key,
        detail=detail or {},
        created_at=created_at or uow.now(),
    )
    uow.session.add(row)
    account.balance += points
    account.updated_at = uow.now()
    uow.session.flush()
    return row


def _debit_lots(
    uow: UnitOfWork, movement: LoyaltyMovementRow, points: int, *, first: str | None = None
) -> None:
    """Take ``points`` from the account's lots (nearest expiry first) for ``movement``."""
    lots = {lot.id: lot for lot in _lots(uow.session, movement.account_id)}
    plan = take_from_lots(
        [Lot(r.id, r.remaining, r.expires_at or r.created_at) for r in lots.values()],
        points,
        first=first,
    )
    for lot_id, used in plan:
        lots[lot_id].remaining -= used
        uow.session.add(LoyaltyLotUseRow(movement_id=movement.id, lot_id=lot_id, points=used))
    uow.session.flush()


def _by_dedup(session: Session, key: str) -> LoyaltyMovementRow | None:
    return session.scalars(
        select(LoyaltyMovementRow).where(LoyaltyMovementRow.dedup_key == key)
    ).first()


def _money(minor: int, currency: str) -> str:
    return f"{Money(minor, currency).amount}"


# ---------------------------------------------------------------------------------------------
# Tiers
# ---------------------------------------------------------------------------------------------


def rolling_spend(session: Session, account_id: str, now: datetime) -> int:
    """Spend in ``TIER_CURRENCY`` minor units over the last ``TIER_WINDOW``, net of refunds."""
    total = session.scalar(
        select(
            func.coalesce(
                func.sum(LoyaltyPurchaseRow.amount_minor - LoyaltyPurchaseRow.refunded_minor), 0
            )
        ).where(
            LoyaltyPurchaseRow.account_id == account_id,
            LoyaltyPurchaseRow.currency == TIER_CURRENCY,
            LoyaltyPurchaseRow.occurred_at > now - TIER_WINDOW,
        )
    )
    return int(total or 0)


def recompute_tier(uow: UnitOfWork, account: LoyaltyAccountRow) -> Tier:
    spend = rolling_spend(uow.session, account.id, uow.now())
    tier = tier_for_spend(spend)
    if tier.value != account.tier:
        previous = account.tier
        account.tier = tier.value
        account.tier_since = uow.now()
        uow.emit(
            ev.TierChanged(
                account_id=account.id,
                customer_id=account.customer_id,
                previous=previous,
                tier=tier.value,
                spend=_money(spend, TIER_CURRENCY),
                currency=TIER_CURRENCY,
            )
        )
    return tier


# ---------------------------------------------------------------------------------------------
# Earn
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseOutcome:
    purchase: LoyaltyPurchaseRow
    movement: LoyaltyMovementRow | None  # None: anonymous, or nothing to earn
    account: LoyaltyAccountRow | None
    replayed: bool  # this (channel, reference) was already recorded: nothing new happened


def _replay(session: Session, purchase: LoyaltyPurchaseRow) -> PurchaseOutcome:
    movement = (
        session.get(LoyaltyMovementRow, purchase.earn_movement_id)
        if purchase.earn_movement_id
        else None
    )
    account = session.get(LoyaltyAccountRow, purchase.account_id) if purchase.account_id else None
    return PurchaseOutcome(purchase, movement, account, replayed=True)


def _find_purchase(
    session: Session, channel: str, ref_type: RefType, ref_id: str
) -> LoyaltyPurchaseRow | None:
    return session.scalars(
        select(LoyaltyPurchaseRow).where(
            LoyaltyPurchaseRow.channel == channel,
            LoyaltyPurchaseRow.ref_type == ref_type.value,
            LoyaltyPurchaseRow.ref_id == ref_id,
        )
    ).first()


def identify_card(uow: UnitOfWork, card: str, channel: str, ref: str) -> str:
    """A card scanned at a till names its profile; an unknown card opens one."""
    from omnicanal.customers.model import Identifier, normalise_card
    from omnicanal.customers.service import identify

    value = normalise_card(card, field_name="card")
    result = identify(
        uow, identifiers=[Identifier("loyalty_card", value)], channel=channel, source_ref=ref
    )
    return result.profile_id


def _check_sale(
    *,
    ref_type: RefType,
    ref_id: str,
    amount: Money,
    customer_id: str | None,
    card: str | None,
    occurred_at: datetime | None,
    now: datetime,
) -> datetime:
    if ref_type not in PURCHASE_REF_TYPES:
        raise InvalidInput(
            f"A purchase is an order or a till_sale, not {ref_type.value}.", field="ref_type"
        )
    if not ref_id:
        raise InvalidInput("Give the channel's reference of the sale.", field="external_ref")
    if amount.minor < 0:
        raise InvalidInput("amount must not be negative.", field="amount")
    if customer_id is not None and card is not None:
        raise InvalidInput("Give customer_id or card, not both.", field="card")
    when = occurred_at or now
    if when > now + _CLOCK_SKEW:
        raise InvalidInput("occurred_at is in the future.", field="occurred_at")
    if when < now - MAX_SYNC_AGE:
        raise InvalidInput(
            f"occurred_at is more than {MAX_SYNC_AGE.days} days ago; such sales are adjusted "
            "by head office (POST /v1/loyalty/accounts/{id}/adjustments).",
            field="occurred_at",
        )
    return when


def record_purchase(
    uow: UnitOfWork,
    *,
    channel: str,
    ref_type: RefType,
    ref_id: str,
    amount: Money,
    lines: Sequence[EarnLine] = (),
    customer_id: str | None = None,
    card: str | None = None,
    store_id: str | None = None,
    bonus_points: int = 0,
    occurred_at: datetime | None = None,
    rules: EarnRules = DEFAULT_RULES,
) -> PurchaseOutcome:
    """Records a completed purchase (identified or anonymous) and earns its points once.

    The same (channel, ref_type, ref_id) again returns the first purchase and movement."""
    session = uow.session
    ref_id = ref_id.strip()
    now = uow.now()
    when = _check_sale(
        ref_type=ref_type,
        ref_id=ref_id,
        amount=amount,
        customer_id=customer_id,
        card=card,
        occurred_at=occurred_at,
        now=now,
    )
    found = _find_purchase(session, channel, ref_type, ref_id)
    if found is not None:
        return _replay(session, found)
    # Claim the reference first: a concurrent retry blocks here, then replays the winner.
    purchase = LoyaltyPurchaseRow(
        id=new_id("lyp"),
        channel=channel,
        ref_type=ref_type.value,
        ref_id=ref_id,
        store_id=store_id,
        identified=customer_id is not None or card is not None,
        customer_id=None,
        account_id=None,
        currency=amount.currency,
        amount_minor=amount.minor,
        refunded_minor=0,
        occurred_at=when,
        recorded_at=now,
    )
    try:
        with session.begin_nested():
            session.add(purchase)
            session.flush()
    except IntegrityError:
        winner = _find_purchase(session, channel, ref_type, ref_id)
        if winner is None:
            raise
        return _replay(session, winner)
    if card is not None:
        customer_id = identify_card(uow, card, channel, f"{ref_type.value}:{ref_id}")
    if customer_id is None:
        return PurchaseOutcome(purchase, None, None, replayed=False)
    try:
        account = open_account(uow, customer_id=customer_id)
    except Gone:  # the customer was erased since: counted as identified, earns nothing
        return PurchaseOutcome(purchase, None, None, replayed=False)
    account = _lock(session, account.id)
    purchase.customer_id = account.customer_id
    purchase.account_id = account.id
    quote = quote_earn(
        lines=lines,
        amount_minor=amount.minor,
        currency=amount.currency,
        tier=Tier(account.tier),
        bonus_points=bonus_points,
        rules=rules,
    )
    movement: LoyaltyMovementRow | None = None
    if quote.points > 0:
        expires_at = expiry_of(when)
        movement = _movement(
            uow,
            account,
            kind=MovementKind.EARN,
            points=quote.points,
            ref_type=ref_type,
            ref_id=ref_id,
            channel=channel,
            store_id=store_id,
            dedup_key=f"earn|{channel}|{ref_type.value}|{ref_id}",
            expires_at=expires_at,
            detail={
                "amount_minor": amount.minor,
                "currency": amount.currency,
                "eligible_minor": quote.eligible_minor,
                "base_points": quote.base_points,
                "tier": quote.tier.value,
                "multiplier": str(quote.multiplier),
                "bonus_points": quote.bonus_points,
            },
        )
        purchase.earn_movement_id = movement.id
        purchase.points_earned = quote.points
        uow.emit(
            ev.PointsEarned(
                account_id=account.id,
                customer_id=account.customer_id,
                movement_id=movement.id,
                points=quote.points,
                balance=account.balance,
                ref_type=ref_type.value,
                ref_id=ref_id,
                channel=channel,
                store_id=store_id,
                tier=quote.tier.value,
                expires_at=expires_at.isoformat(),
            )
        )
    session.flush()
    recompute_tier(uow, account)
    return PurchaseOutcome(purchase, movement, account, replayed=False)


def earn_for_order(uow: UnitOfWork, order_id: str) -> PurchaseOutcome | None:
    """A completed order: its collected or delivered lines (cancelled units left out), read
    from the orders tables at completion, earn for the order's customer (or count as
    anonymous). Returns None if the order is unknown."""
    from omnicanal.catalog.tables import ProductRow, VariantRow
    from omnicanal.orders.tables import FulfilmentGroupRow, OrderLineRow, OrderRow

    session = uow.session
    order = session.get(OrderRow, order_id)
    if order is None:
        return None
    rows = session.execute(
        select(
            OrderLineRow.sku,
            OrderLineRow.quantity - OrderLineRow.quantity_cancelled,
            OrderLineRow.unit_price_minor,
        )
        .join(FulfilmentGroupRow, FulfilmentGroupRow.id == OrderLineRow.group_id)
        .where(
            OrderLineRow.order_id == order_id,
            FulfilmentGroupRow.status.in_(("collected", "delivered")),
        )
        .order_by(OrderLineRow.id)
    ).all()
    skus = sorted({r[0] for r in rows})
    categories: dict[str, str | None] = dict(
        session.execute(
            select(VariantRow.sku, ProductRow.category)
            .join(ProductRow, ProductRow.id == VariantRow.product_id)
            .where(VariantRow.sku.in_(skus))
        ).all()
    )
    lines = [
        EarnLine(sku=sku, quantity=int(qty), unit_price_minor=price, category=categories.get(sku))
        for sku, qty, price in rows
        if qty > 0
    ]
    amount = min(sum(line.amount_minor for line in lines), order.total_minor)
    return record_purchase(
        uow,
        channel=order.channel,
        ref_type=RefType.ORDER,
        ref_id=order.id,
        amount=Money(amount, order.currency),
        lines=lines,
        customer_id=order.customer_id,
        store_id=order.store_id,
        bonus_points=order.bonus_points,
    )


# ---------------------------------------------------------------------------------------------
# Burn
# ---------------------------------------------------------------------------------------------


def redeem(
    uow: UnitOfWork,
    *,
    account_id: str,
    points: int,
    currency: str,
    channel: str,
    store_id: str | None = None,
    purpose: str = "payment",
    reward: str | None = None,
    external_ref: str | None = None,
) -> LoyaltyRedemptionRow:
    """Spend points as a payment (their value at 100 points = 1 unit) or for a reward. The
    channel records the redemption id on its order as a payment with provider ``loyalty``."""
    from omnicanal.shared.money import check_currency

    session = uow.session
    check_points(points)
    code = check_currency(currency)
    if purpose not in ("payment", "reward"):
        raise InvalidInput("purpose is payment or reward.", field="purpose")
    if purpose == "reward" and not reward:
        raise InvalidInput("Name the reward the points pay for.", field="reward")
    dedup = f"burn|{channel}|{external_ref}" if external_ref else None
    account = get_account(session, account_id, lock=True)
    if dedup is not None:
        done = _by_dedup(session, dedup)
        if done is not None:
            return session.scalars(
                select(LoyaltyRedemptionRow).where(LoyaltyRedemptionRow.movement_id == done.id)
            ).one()
    value = redemption_value_minor(points, code) if purpose == "payment" else 0
    if purpose == "payment" and value <= 0:
        raise InvalidInput(
            f"{points} points are worth less than the smallest {code} amount; redeem at least "
            "100 points.",
            field="points",
        )
    if points > account.balance:
        raise Conflict(
            f"The account holds {account.balance} points; {points} cannot be redeemed. Redeem "
            f"at most {account.balance}.",
            code="insufficient-points",
            field="points",
            balance=account.balance,
            requested=points,
        )
    redemption_id = new_id("lyr")
    movement = _movement(
        uow,
        account,
        kind=MovementKind.BURN,
        points=-points,
        ref_type=RefType.REDEMPTION,
        ref_id=redemption_id,
        channel=channel,
        store_id=store_id,
        dedup_key=dedup,
        detail={"purpose": purpose, "value_minor": value, "currency": code, "reward": reward},
    )
    _debit_lots(uow, movement, points)
    row = LoyaltyRedemptionRow(
        id=redemption_id,
        account_id=account.id,
        movement_id=movement.id,
        purpose=purpose,
        reward=reward,
        points=points,
        value_minor=value,
        currency=code,
        channel=channel,
        store_id=store_id,
        order_id=None,
        status="active",
        created_at=uow.now(),
        refunded_at=None,
    )
    session.add(row)
    session.flush()
    uow.emit(
        ev.PointsBurned(
            account_id=account.id,
            customer_id=account.customer_id,
            movement_id=movement.id,
            points=-points,
            balance=account.balance,
            ref_type=RefType.REDEMPTION.value,
            ref_id=redemption_id,
            channel=channel,
            store_id=store_id,
            redemption_id=redemption_id,
            value=_money(value, code),
            currency=code,
        )
    )
    return row


def get_redemption(session: Session, redemption_id: str) -> LoyaltyRedemptionRow:
    row = session.get(LoyaltyRedemptionRow, redemption_id)
    if row is None:
        raise NotFound(
            f"No redemption {redemption_id}.",
            code="redemption-not-found",
            field="redemption_id",
            redemption_id=redemption_id,
        )
    return row


def refund_redemption(
    uow: UnitOfWork, redemption_id: str, *, channel: str, reason: str
) -> LoyaltyRedemptionRow:
    """Give a redemption's points back into the lots they came from (an abandoned sale, a
    cancelled order). Refunding twice changes nothing."""
    session = uow.session
    row = get_redemption(session, redemption_id)
    if row.status == "refunded":
        return row
    account = _lock(
        session, _follow(session, session.get_one(LoyaltyAccountRow, row.account_id)).id
    )
    uses = list(
        session.scalars(
            select(LoyaltyLotUseRow).where(LoyaltyLotUseRow.movement_id == row.movement_id)
        )
    )
    movement = _movement(
        uow,
        account,
        kind=MovementKind.REVERSE,
        points=row.points,
        ref_type=RefType.REDEMPTION,
        ref_id=row.id,
        channel=channel,
        dedup_key=f"refund|redemption|{row.id}",
        detail={"reason": reason},
    )
    for use in uses:  # the points go back to their lots, with the lots' expiry dates
        lot = session.get_one(LoyaltyMovementRow, use.lot_id)
        lot.remaining += use.points
        session.add(
            LoyaltyLotUseRow(movement_id=movement.id, lot_id=use.lot_id, points=-use.points)
        )
    row.status = "refunded"
    row.refunded_at = uow.now()
    session.flush()
    uow.emit(
        ev.PointsReversed(
            account_id=account.id,
            customer_id=account.customer_id,
            movement_id=movement.id,
            points=row.points,
            balance=account.balance,
            ref_type=RefType.REDEMPTION.value,
            ref_id=row.id,
            channel=channel,
        )
    )
    return row


def link_redemption(uow: UnitOfWork, *, redemption_id: str, order_id: str) -> None:
    """The order that a redemption paid for (its payment reference with provider loyalty)."""
    row = uow.session.get(LoyaltyRedemptionRow, redemption_id)
    if row is not None and row.order_id is None:
        row.order_id = order_id


# ---------------------------------------------------------------------------------------------
# Reversal
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReversalOutcome:
    movement: LoyaltyMovementRow | None
    points: int  # taken back
    unrecovered: int  # earned points already spent, which the balance could not cover
    refunded_redemptions: list[str]


def _reverse_points(
    uow: UnitOfWork,
    purchase: LoyaltyPurchaseRow,
    points: int,
    *,
    ref_type: RefType,
    ref_id: str,
    channel: str,
    reason: str,
) -> tuple[LoyaltyMovementRow | None, int]:
    if purchase.account_id is None or points <= 0:
        return None, 0
    session = uow.session
    account = _lock(
        session, _follow(session, session.get_one(LoyaltyAccountRow, purchase.account_id)).id
    )
    if account.status != "active":
        return None, points
    taken = min(points, account.balance)  # the balance never goes negative; the rest is lost
    movement = _movement(
        uow,
        account,
        kind=MovementKind.REVERSE,
        points=-taken,
        ref_type=ref_type,
        ref_id=ref_id,
        channel=channel,
        dedup_key=f"reverse|{ref_type.value}|{ref_id}",
        detail={
            "reason": reason,
            "purchase": {"ref_type": purchase.ref_type, "ref_id": purchase.ref_id},
            "asked": points,
            "unrecovered": points - taken,
        },
    )
    if taken:
        _debit_lots(uow, movement, taken, first=purchase.earn_movement_id)
    uow.emit(
        ev.PointsReversed(
            account_id=account.id,
            customer_id=account.customer_id,
            movement_id=movement.id,
            points=-taken,
            balance=account.balance,
            ref_type=ref_type.value,
            ref_id=ref_id,
            channel=channel,
            unrecovered=points - taken,
        )
    )
    return movement, points - taken


def _already_reversed(session: Session, purchase: LoyaltyPurchaseRow) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LoyaltyRefundRow.points_reversed), 0)).where(
            LoyaltyRefundRow.purchase_id == purchase.id
        )
    )
    return int(total or 0)


def reverse_purchase(
    uow: UnitOfWork,
    *,
    purchase_ref_type: RefType,
    purchase_ref_id: str,
    channel: str | None = None,
    refund_minor: int | None = None,
    ref_type: RefType,
    ref_id: str,
    reason: str,
) -> ReversalOutcome:
    """Take back what a purchase earned: all of it (``refund_minor`` None: a cancellation) or
    the share of a refund (a return), once per (ref_type, ref_id). Points already spent are
    taken from the other lots; what the balance cannot cover is recorded as unrecovered."""
    session = uow.session
    stmt = select(LoyaltyPurchaseRow).where(
        LoyaltyPurchaseRow.ref_type == purchase_ref_type.value,
        LoyaltyPurchaseRow.ref_id == purchase_ref_id,
    )
    if channel is not None:
        stmt = stmt.where(LoyaltyPurchaseRow.channel == channel)
    purchase = session.scalars(stmt.with_for_update()).first()
    nothing = ReversalOutcome(None, 0, 0, [])
    if purchase is None:
        return nothing
    done = session.scalars(
        select(LoyaltyRefundRow).where(
            LoyaltyRefundRow.ref_type == ref_type.value, LoyaltyRefundRow.ref_id == ref_id
        )
    ).first()
    if done is not None:
        return nothing
    left_minor = purchase.amount_minor - purchase.refunded_minor
    part = left_minor if refund_minor is None else max(0, min(refund_minor, left_minor))
    reversed_before = _already_reversed(session, purchase)
    if refund_minor is None or part >= left_minor:
        points = purchase.points_earned - reversed_before
    else:
        points = min(
            share_of(purchase.points_earned, part, purchase.amount_minor),
            purchase.points_earned - reversed_before,
        )
    movement, unrecovered = _reverse_points(
        uow,
        purchase,
        points,
        ref_type=ref_type,
        ref_id=ref_id,
        channel=channel or purchase.channel,
        reason=reason,
    )
    purchase.refunded_minor += part
    session.add(
        LoyaltyRefundRow(
            ref_type=ref_type.value,
            ref_id=ref_id,
            purchase_id=purchase.id,
            amount_minor=part,
            points_reversed=max(points, 0),
            created_at=uow.now(),
        )
    )
    session.flush()
    if purchase.account_id is not None:
        account = _follow(session, session.get_one(LoyaltyAccountRow, purchase.account_id))
        if account.status == "active":
            recompute_tier(uow, account)
    return ReversalOutcome(movement, max(points, 0) - unrecovered, unrecovered, [])


def cancel_order(uow: UnitOfWork, order_id: str) -> ReversalOutcome:
    """An order was cancelled (or not collected): reverse what it earned and give back the
    points its loyalty payments (linked redemptions) spent."""
    outcome = reverse_purchase(
        uow,
        purchase_ref_type=RefType.ORDER,
        purchase_ref_id=order_id,
        ref_type=RefType.ORDER,
        ref_id=order_id,
        reason="order cancelled",
    )
    from omnicanal.orders.tables import OrderPaymentRow

    # a loyalty payment given when the order was placed is on the order, not in an event
    paid_with = select(OrderPaymentRow.reference).where(
        OrderPaymentRow.order_id == order_id, OrderPaymentRow.provider == "loyalty"
    )
    refunded = []
    linked = uow.session.scalars(
        select(LoyaltyRedemptionRow)
        .where(
            (LoyaltyRedemptionRow.order_id == order_id) | LoyaltyRedemptionRow.id.in_(paid_with),
            LoyaltyRedemptionRow.status == "active",
        )
        .order_by(LoyaltyRedemptionRow.id)
    ).all()
    for row in linked:
        row.order_id = order_id
        refund_redemption(uow, row.id, channel="system", reason=f"order {order_id} cancelled")
        refunded.append(row.id)
    return ReversalOutcome(outcome.movement, outcome.points, outcome.unrecovered, refunded)


# ---------------------------------------------------------------------------------------------
# Expiry and adjustments
# ---------------------------------------------------------------------------------------------


def expire_due(uow: UnitOfWork, *, limit: int = 500) -> int:
    """Expire the points of lots past their date (oldest first, at most ``limit`` lots per
    call); returns how many lots it expired. A background worker calls it until it returns 0."""
    session = uow.session
    now = uow.now()
    due = session.execute(
        select(LoyaltyMovementRow.id, LoyaltyMovementRow.account_id)
        .where(
            LoyaltyMovementRow.remaining > 0,
            LoyaltyMovementRow.expires_at <= now,
        )
        .order_by(LoyaltyMovementRow.expires_at, LoyaltyMovementRow.id)
        .limit(limit)
    ).all()
    by_account: dict[str, list[str]] = {}
    for lot_id, account_id in due:
        by_account.setdefault(account_id, []).append(lot_id)
    expired = 0
    for account_id in sorted(by_account):  # accounts locked in id order
        account = _lock(session, account_id)
        for lot_id in by_account[account_id]:
            lot = session.scalars(
                select(LoyaltyMovementRow)
                .where(LoyaltyMovementRow.id == lot_id)
                .execution_options(populate_existing=True)
            ).one()
            if lot.remaining <= 0:
                continue
            points = lot.remaining
            movement = _movement(
                uow,
                account,
                kind=MovementKind.EXPIRE,
                points=-points,
                ref_type=RefType.EXPIRY,
                ref_id=lot.id,
                channel="system",
                detail={"expires_at": lot.expires_at.isoformat() if lot.expires_at else None},
            )
            lot.remaining = 0
            session.add(LoyaltyLotUseRow(movement_id=movement.id, lot_id=lot.id, points=points))
            expired += 1
            uow.emit(
                ev.PointsExpired(
                    account_id=account.id,
                    customer_id=account.customer_id,
                    movement_id=movement.id,
                    points=-points,
                    balance=account.balance,
                    ref_type=RefType.EXPIRY.value,
                    ref_id=lot.id,
                    channel="system",
                )
            )
    session.flush()
    return expired


def adjust(
    uow: UnitOfWork,
    *,
    account_id: str,
    points: int,
    reason: str,
    reference: str,
    channel: str,
) -> LoyaltyMovementRow:
    """Head office credits (a new lot, expiring like an earn) or debits (nearest expiry first)
    an account; once per ``reference``."""
    session = uow.session
    if points == 0:
        raise InvalidInput("An adjustment moves at least one point.", field="points")
    check_points(abs(points))
    if not reason.strip():
        raise InvalidInput("Say why the account is adjusted.", field="reason")
    account = get_account(session, account_id, lock=True)
    dedup = f"adjust|{reference}"
    done = _by_dedup(session, dedup)
    if done is not None:
        return done
    if points < 0 and -points > account.balance:
        raise Conflict(
            f"The account holds {account.balance} points; {-points} cannot be taken.",
            code="insufficient-points",
            field="points",
            balance=account.balance,
        )
    now = uow.now()
    movement = _movement(
        uow,
        account,
        kind=MovementKind.ADJUST,
        points=points,
        ref_type=RefType.ADJUSTMENT,
        ref_id=reference,
        channel=channel,
        dedup_key=dedup,
        expires_at=expiry_of(now) if points > 0 else None,
        detail={"reason": reason},
    )
    if points < 0:
        _debit_lots(uow, movement, -points)
    uow.emit(
        ev.PointsAdjusted(
            account_id=account.id,
            customer_id=account.customer_id,
            movement_id=movement.id,
            points=points,
            balance=account.balance,
            ref_type=RefType.ADJUSTMENT.value,
            ref_id=reference,
            channel=channel,
            reason=reason,
        )
    )
    return movement


# ---------------------------------------------------------------------------------------------
# Customer merges and erasure
# ---------------------------------------------------------------------------------------------


def follow_profile_merge(
    uow: UnitOfWork, *, survivor_id: str, absorbed_ids: Iterable[str], merge_id: str | None
) -> LoyaltyAccountRow | None:
    """The accounts of absorbed profiles become the survivor's: their lots (movements) move
    with their expiry dates, each movement keeps ``origin_account_id``, purchases follow, and
    the absorbed accounts point at the survivor's (``merged``)."""
    session = uow.session
    absorbed = sorted(set(absorbed_ids) - {survivor_id})
    if not absorbed:
        return None
    ids = sorted(
        session.scalars(
            select(LoyaltyAccountRow.id).where(
                LoyaltyAccountRow.customer_id.in_([survivor_id, *absorbed]),
                LoyaltyAccountRow.status == "active",
            )
        )
    )
    if not ids:
        return None
    accounts = [_lock(session, i) for i in ids]  # id order
    target = next((a for a in accounts if a.customer_id == survivor_id), None)
    if target is None:  # the survivor had no account: the oldest absorbed one becomes theirs
        target = min(accounts, key=lambda a: (a.created_at, a.id))
        target.customer_id = survivor_id
    others = [a for a in accounts if a.id != target.id]
    now = uow.now()
    from sqlalchemy import update

    for other in others:
        session.execute(
            update(LoyaltyMovementRow)
            .where(LoyaltyMovementRow.account_id == other.id)
            .values(account_id=target.id)
        )
        session.execute(
            update(LoyaltyPurchaseRow)
            .where(LoyaltyPurchaseRow.account_id == other.id)
            .values(account_id=target.id, customer_id=survivor_id)
        )
        session.execute(
            update(LoyaltyRedemptionRow)
            .where(LoyaltyRedemptionRow.account_id == other.id)
            .values(account_id=target.id)
        )
        target.balance += other.balance
        other.balance = 0
        other.status = "merged"
        other.merged_into = target.id
        other.updated_at = now
    target.updated_at = now
    session.flush()
    if others:
        uow.emit(
            ev.AccountsMerged(
                account_id=target.id,
                customer_id=survivor_id,
                absorbed_account_ids=[a.id for a in others],
                merge_id=merge_id,
                balance=target.balance,
            )
        )
    recompute_tier(uow, target)
    return target


def forget_profiles(uow: UnitOfWork, *, erased_ids: Iterable[str]) -> int:
    """Erasure: the ledger stays (accounting) but no longer names the person. The account loses
    its profile id and is closed; its remaining points are forfeited by one ``adjust`` movement;
    purchases keep their amounts for the KPIs without the profile id. Returns accounts closed."""
    from sqlalchemy import update

    session = uow.session
    ids = sorted(set(erased_ids))
    if not ids:
        return 0
    session.execute(
        update(LoyaltyPurchaseRow)
        .where(LoyaltyPurchaseRow.customer_id.in_(ids))
        .values(customer_id=None)
    )
    accounts = list(
        session.scalars(select(LoyaltyAccountRow.id).where(LoyaltyAccountRow.customer_id.in_(ids)))
    )
    for account_id in sorted(accounts):
        account = _lock(session, account_id)
        if account.balance > 0:
            points = account.balance
            movement = _movement(
                uow,
                account,
                kind=MovementKind.ADJUST,
                points=-points,
                ref_type=RefType.ERASURE,
                ref_id=account.id,
                channel="system",
                dedup_key=f"erasure|{account.id}",
                detail={"reason": "customer erased: points forfeited"},
            )
            _debit_lots(uow, movement, points)
        account.customer_id = None
        account.status = "erased"
        account.updated_at = uow.now()
    session.flush()
    return len(accounts)


# ---------------------------------------------------------------------------------------------
# Checks (tests and audits)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    balance: int
    movements_sum: int
    lots_remaining: int

    @property
    def consistent(self) -> bool:
        return self.balance == self.movements_sum == self.lots_remaining and self.balance >= 0


def check_ledger(session: Session, account_id: str) -> LedgerCheck:
    """The account's balance, the sum of its movements and the points its lots hold: equal."""
    account = session.get_one(LoyaltyAccountRow, account_id)
    movements = session.scalar(
        select(func.coalesce(func.sum(LoyaltyMovementRow.points), 0)).where(
            LoyaltyMovementRow.account_id == account_id
        )
    )
    remaining = session.scalar(
        select(func.coalesce(func.sum(LoyaltyMovementRow.remaining), 0)).where(
            LoyaltyMovementRow.account_id == account_id
        )
    )
    return LedgerCheck(account.balance, int(movements or 0), int(remaining or 0))
