"""Read side: a return as the API shows it, the lists (review queue), exchange suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import VariantRow
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.returns.service import get_return, return_lines
from omnicanal.returns.tables import ReturnLineRow, ReturnRow
from omnicanal.shared.money import Money
from omnicanal.storage.paging import keyset_page

SUGGESTIONS = 5


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"amount": str(Money(minor, currency).amount), "currency": currency}


def return_view(row: ReturnRow, lines: Sequence[ReturnLineRow]) -> dict[str, Any]:
    return {
        "id": row.id,
        "order_id": row.order_id,
        "order_channel": row.order_channel,
        "channel": row.channel,
        "location_id": row.location_id,
        "customer_id": row.customer_id,
        "status": row.status,
        "outcome": row.outcome,
        "review_reasons": list(row.review_reasons or []),
        "refund": _money(row.refund_minor, row.currency),
        "refund_minor": row.refund_minor,
        "money_refunded": _money(row.money_refunded_minor, row.currency),
        "to_pay": _money(row.to_pay_minor, row.currency),
        "payment_reference": row.payment_reference,
        "refund_reference": row.refund_reference,
        "credit_note": (
            {"id": row.credit_note_id, "amount": _money(row.refund_minor, row.currency)}
            if row.credit_note_id
            else None
        ),
        "exchange_lines": list(row.exchange_lines or []),
        "exchange_order_id": row.exchange_order_id,
        "decision_note": row.decision_note,
        "csat": {"score": row.csat_score, "comment": row.csat_comment}
        if row.csat_score is not None
        else None,
        "lines": [
            {
                "id": line.id,
                "order_line_id": line.order_line_id,
                "sku": line.sku,
                "ordered_sku": line.ordered_sku,
                "quantity": line.quantity,
                "reason": line.reason,
                "condition": line.condition,
                "refund": _money(line.refund_minor, row.currency),
            }
            for line in lines
        ],
        "created_at": row.created_at,
        "decided_at": row.decided_at,
    }


def one(session: Session, return_id: str) -> dict[str, Any]:
    row = get_return(session, return_id)
    return return_view(row, return_lines(session, row.id))


def page(
    session: Session,
    *,
    status: str | None,
    order_id: str | None,
    location_id: str | None,
    customer_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    stmt = select(ReturnRow)
    if status:
        stmt = stmt.where(ReturnRow.status == status)
    if order_id:
        stmt = stmt.where(ReturnRow.order_id == order_id)
    if location_id:
        stmt = stmt.where(ReturnRow.location_id == location_id)
    if customer_id:
        stmt = stmt.where(ReturnRow.customer_id == customer_id)
    rows, next_cursor = keyset_page(
        session, stmt, order_by=[ReturnRow.id], cursor=cursor, limit=limit
    )
    by_return: dict[str, list[ReturnLineRow]] = {row.id: [] for row in rows}
    if rows:
        for line in session.scalars(
            select(ReturnLineRow)
            .where(ReturnLineRow.return_id.in_(list(by_return)))
            .order_by(ReturnLineRow.id)
        ):
            by_return[line.return_id].append(line)
    return [return_view(row, by_return[row.id]) for row in rows], next_cursor


# -- exchange suggestions ----------------------------------------------------------------------
def _available_here(session: Session, location_id: str, skus: Sequence[str]) -> dict[str, int]:
    if not skus:
        return {}
    rows = session.scalars(
        select(StockLevelRow).where(
            StockLevelRow.location_id == location_id, StockLevelRow.sku.in_(list(skus))
        )
    )
    out = {}
    for row in rows:
        atp = row.on_hand - row.reserved - row.committed - row.damaged - row.safety_stock
        if atp > 0:
            out[row.sku] = atp
    return out


def _bought_with(
    session: Session, skus: Sequence[str], exclude: set[str]
) -> list[tuple[str, float]] | None:
    """Items often bought with the returned ones; None when recommendations are not there."""
    try:
        from omnicanal.recommendations.service import bought_with
    except ImportError:
        return None
    return list(bought_with(session, list(skus), limit=SUGGESTIONS, exclude=sorted(exclude)))


def suggestions(session: Session, return_id: str) -> dict[str, Any]:
    """First the same products in another size or colour the receiving store has now, then
    items often bought with them (also in that store, when known); never what comes back."""
    row = get_return(session, return_id)
    lines = return_lines(session, row.id)
    returned = sorted({line.sku for line in lines} | {line.ordered_sku for line in lines})
    return {"return_id": row.id, **suggest_for(session, row.location_id, returned)}


def suggest_for(session: Session, location_id: str, returned_skus: Sequence[str]) -> dict[str, Any]:
    """Exchange ideas for SKUs coming back at a location (before or after the return exists)."""
    returned = sorted(set(returned_skus))
    variants = {
        v.sku: v for v in session.scalars(select(VariantRow).where(VariantRow.sku.in_(returned)))
    }
    product_ids = sorted({v.product_id for v in variants.values()})
    siblings = list(
        session.scalars(
            select(VariantRow)
            .where(
                VariantRow.product_id.in_(product_ids),
                VariantRow.sku.not_in(returned),
                VariantRow.status == "active",
            )
            .order_by(VariantRow.sku)
        )
    )
    here = _available_here(session, location_id, [v.sku for v in siblings])
    same_product: list[dict[str, Any]] = [
        {
            "sku": v.sku,
            "title": v.title,
            "attributes": dict(v.attributes or {}),
            "available_here": here[v.sku],
            "why": "same product, another size or colour, in this store now",
        }
        for v in siblings
        if v.sku in here
    ][:SUGGESTIONS]
    exclude = set(returned) | {str(s["sku"]) for s in same_product}
    paired = _bought_with(session, returned, exclude)
    often: list[dict[str, Any]] = []
    if paired:
        skus = [sku for sku, _ in paired if sku not in exclude]
        stock = _available_here(session, location_id, skus)
        titles = {
            sku: title
            for sku, title in session.execute(
                select(VariantRow.sku, VariantRow.title).where(VariantRow.sku.in_(skus))
            )
        }
        often = [
            {
                "sku": sku,
                "title": titles.get(sku),
                "score": score,
                "available_here": stock.get(sku, 0),
                "why": "often bought with the returned item",
            }
            for sku, score in paired
            if sku not in exclude
        ]
    return {
        "location_id": location_id,
        "returned_skus": returned,
        "same_product": same_product,
        "bought_with": often,
        "bought_with_available": paired is not None,
    }
