"""Read side: an account with its next expiry and rolling spend, its movements (keyset pages),
and the identification figures (identified vs anonymous purchases)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from omnicanal.loyalty.model import TIER_CURRENCY, TIER_THRESHOLDS, Tier
from omnicanal.loyalty.service import rolling_spend
from omnicanal.loyalty.tables import LoyaltyAccountRow, LoyaltyMovementRow, LoyaltyPurchaseRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.storage.paging import keyset_page


@dataclass(frozen=True, slots=True)
class Expiring:
    points: int
    expires_at: datetime


@dataclass(frozen=True)
class AccountSummary:
    account: LoyaltyAccountRow
    spend_minor: int  # rolling, in TIER_CURRENCY
    next_tier: Tier | None
    to_next_tier_minor: int | None
    next_expiry: Expiring | None


def summary(session: Session, account: LoyaltyAccountRow, now: datetime) -> AccountSummary:
    spend = rolling_spend(session, account.id, now)
    above = [(tier, limit) for tier, limit in TIER_THRESHOLDS if limit > spend]
    next_tier, gap = (above[-1][0], above[-1][1] - spend) if above else (None, None)
    first = session.execute(
        select(LoyaltyMovementRow.expires_at, func.sum(LoyaltyMovementRow.remaining))
        .where(LoyaltyMovementRow.account_id == account.id, LoyaltyMovementRow.remaining > 0)
        .group_by(LoyaltyMovementRow.expires_at)
        .order_by(LoyaltyMovementRow.expires_at)
        .limit(1)
    ).first()
    expiring = Expiring(int(first[1]), first[0]) if first and first[0] is not None else None
    return AccountSummary(account, spend, next_tier, gap, expiring)


def movements(
    session: Session, account_id: str, *, cursor: str | None, limit: int
) -> tuple[list[LoyaltyMovementRow], str | None]:
    """The account's ledger, oldest first (movements of merged accounts included)."""
    stmt = select(LoyaltyMovementRow).where(LoyaltyMovementRow.account_id == account_id)
    return keyset_page(
        session,
        stmt,
        order_by=[LoyaltyMovementRow.created_at, LoyaltyMovementRow.id],
        cursor=cursor,
        limit=limit,
    )


@dataclass(frozen=True, slots=True)
class BasketFigures:
    purchases: int
    revenue_minor: int

    @property
    def average_minor(self) -> int | None:
        """Rounded half-even to the minor unit, in integers (never float)."""
        if self.purchases == 0:
            return None
        value = Decimal(self.revenue_minor) / Decimal(self.purchases)
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Identification:
    currency: str
    identified: BasketFigures
    anonymous: BasketFigures

    @property
    def purchases(self) -> int:
        return self.identified.purchases + self.anonymous.purchases

    @property
    def rate(self) -> Decimal | None:
        """Identified purchases / all purchases, 4 decimals (None when there were none)."""
        if self.purchases == 0:
            return None
        return (Decimal(self.identified.purchases) / Decimal(self.purchases)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN
        )


def identification(
    session: Session,
    *,
    currency: str = TIER_CURRENCY,
    channel: str | None = None,
    store_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Identification:
    """Completed purchases in ``[since, until)`` (sale time), in one currency: how many were
    identified (a customer or card given) and the average basket of each kind, net of refunds."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since.", field="until")
    net = LoyaltyPurchaseRow.amount_minor - LoyaltyPurchaseRow.refunded_minor
    stmt = select(
        func.coalesce(func.sum(case((LoyaltyPurchaseRow.identified, 1), else_=0)), 0),
        func.coalesce(func.sum(case((LoyaltyPurchaseRow.identified, net), else_=0)), 0),
        func.count(),
        func.coalesce(func.sum(net), 0),
    ).where(LoyaltyPurchaseRow.currency == currency)
    if channel is not None:
        stmt = stmt.where(LoyaltyPurchaseRow.channel == channel)
    if store_id is not None:
        stmt = stmt.where(LoyaltyPurchaseRow.store_id == store_id)
    if since is not None:
        stmt = stmt.where(LoyaltyPurchaseRow.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(LoyaltyPurchaseRow.occurred_at < until)
    ident_n, ident_sum, total_n, total_sum = session.execute(stmt).one()
    return Identification(
        currency=currency,
        identified=BasketFigures(int(ident_n), int(ident_sum)),
        anonymous=BasketFigures(int(total_n) - int(ident_n), int(total_sum) - int(ident_sum)),
    )


def account_of(session: Session, account_id: str) -> LoyaltyAccountRow | None:
    return session.get(LoyaltyAccountRow, account_id)
