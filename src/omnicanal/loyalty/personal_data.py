"""A customer's loyalty account and points history in their export (erasure is the
``loyalty.erasure`` consumer: the ledger stays, pseudonymised, its points forfeited)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.events.model import to_jsonable
from omnicanal.loyalty.tables import LoyaltyAccountRow, LoyaltyMovementRow
from omnicanal.storage.uow import UnitOfWork


def export_loyalty(session: Session, ids: Sequence[str]) -> list[dict[str, Any]]:
    accounts = session.scalars(
        select(LoyaltyAccountRow).where(LoyaltyAccountRow.customer_id.in_(ids))
    ).all()
    result = []
    for account in accounts:
        movements = session.scalars(
            select(LoyaltyMovementRow)
            .where(LoyaltyMovementRow.account_id == account.id)
            .order_by(LoyaltyMovementRow.created_at, LoyaltyMovementRow.id)
        )
        result.append(
            {
                "id": account.id,
                "balance": account.balance,
                "tier": account.tier,
                "movements": [
                    {
                        "kind": m.kind,
                        "points": m.points,
                        "ref_type": m.ref_type,
                        "ref_id": m.ref_id,
                        "channel": m.channel,
                        "created_at": to_jsonable(m.created_at),
                    }
                    for m in movements
                ],
            }
        )
    return result


def erase_loyalty(uow: UnitOfWork, ids: Sequence[str]) -> int:
    return 0  # the loyalty.erasure consumer pseudonymises the account (docs/loyalty.md)
