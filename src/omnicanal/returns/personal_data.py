"""Returns in a customer's export, and their erasure: what the customer wrote goes; the return
itself (amounts, dates, receiving store) stays for the accounts and the return-rate KPIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omnicanal.events.model import to_jsonable
from omnicanal.returns.tables import ReturnRow
from omnicanal.storage.uow import UnitOfWork

_EXPORTED = (
    "id",
    "order_id",
    "channel",
    "location_id",
    "status",
    "outcome",
    "currency",
    "refund_minor",
    "money_refunded_minor",
    "credit_note_id",
    "exchange_order_id",
    "csat_score",
    "csat_comment",
    "created_at",
)


def export_returns(session: Session, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ReturnRow).where(ReturnRow.customer_id.in_(ids)).order_by(ReturnRow.id)
    )
    return [{n: to_jsonable(getattr(r, n)) for n in _EXPORTED} for r in rows]


def erase_returns(uow: UnitOfWork, ids: Sequence[str]) -> int:
    result = uow.session.execute(
        update(ReturnRow).where(ReturnRow.customer_id.in_(ids)).values(csat_comment=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
