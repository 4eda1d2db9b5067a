"""Read side: promotions as the API shows them, lists, coupons, priced baskets as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.promotions.model import PricedBasket, action_from_json
from omnicanal.promotions.tables import PromotionRow
from omnicanal.shared.money import Money
from omnicanal.storage.paging import keyset_page


def _amount(minor: int | None, currency: str | None) -> str | None:
    if minor is None or currency is None:
        return None
    return str(Money(minor, currency).amount)


def promotion_view(row: PromotionRow) -> dict[str, Any]:
    actions = []
    for a in row.actions.get("items", []):
        action = action_from_json(a)
        actions.append(
            {
                "kind": action.kind.value,
                "scope": action.scope.value,
                "percent": str(action.percent) if action.percent else None,
                "amount": _amount(action.amount_minor or None, row.currency),
                "price": _amount(action.price_minor, row.currency)
                if action.kind.value == "fixed_price"
                else None,
                "buy": action.buy or None,
                "get": action.get or None,
                "points": action.points or None,
            }
        )
    conditions = dict(row.conditions)
    conditions["min_subtotal"] = _amount(
        conditions.pop("min_subtotal_minor", 0) or None, row.currency
    )
    conditions.update(starts_at=row.starts_at, ends_at=row.ends_at, coupon=row.coupon_code)
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "store_id": row.store_id,
        "currency": row.currency,
        "priority": row.priority,
        "exclusive": row.exclusive,
        "stackable": row.stackable,
        "conditions": conditions,
        "actions": actions,
        "limits": {
            "max_redemptions": row.max_redemptions,
            "max_per_customer": row.max_per_customer,
            "budget": _amount(row.budget_minor, row.currency),
        },
        "usage": {
            "redemptions": row.redemptions,
            "spent": _amount(row.spent_minor, row.currency) if row.currency else None,
        },
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def list_promotions(
    session: Session,
    *,
    status: str | None,
    store_id: str | None,
    coupon: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    stmt = select(PromotionRow)
    if status:
        stmt = stmt.where(PromotionRow.status == status)
    if store_id:
        stmt = stmt.where(PromotionRow.store_id == store_id)
    if coupon:
        stmt = stmt.where(PromotionRow.coupon_code == coupon.strip().upper())
    rows, next_cursor = keyset_page(
        session, stmt, order_by=[PromotionRow.id], cursor=cursor, limit=limit
    )
    return [promotion_view(r) for r in rows], next_cursor


def coupon_promotions(session: Session, code: str) -> list[PromotionRow]:
    stmt = select(PromotionRow).where(PromotionRow.coupon_code == code.strip().upper())
    return list(session.scalars(stmt.order_by(PromotionRow.id)))


def coupon_state(row: PromotionRow, at: datetime) -> str:
    """valid | not_started | ended | paused | archived | used_up."""
    if row.status != "active":
        return row.status
    if row.starts_at is not None and at < row.starts_at:
        return "not_started"
    if row.ends_at is not None and at >= row.ends_at:
        return "ended"
    if row.max_redemptions is not None and row.redemptions >= row.max_redemptions:
        return "used_up"
    if row.budget_minor is not None and row.spent_minor >= row.budget_minor:
        return "used_up"
    return "valid"


def priced_view(priced: PricedBasket) -> dict[str, Any]:
    cur = priced.currency

    def money(minor: int) -> str:
        return str(Money(minor, cur).amount)

    return {
        "currency": cur,
        "lines": [
            {
                "sku": line.sku,
                "category": line.category,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price_minor),
                "subtotal": money(line.subtotal_minor),
                "discounts": [
                    {
                        "promotion_id": d.promotion_id,
                        "name": d.name,
                        "amount": money(d.amount_minor),
                        "explanation": d.explanation,
                    }
                    for d in line.discounts
                ],
                "total": money(line.total_minor),
                "basket_discount_share": money(line.basket_share_minor),
            }
            for line in priced.lines
        ],
        "basket_discounts": [
            {
                "promotion_id": d.promotion_id,
                "name": d.name,
                "amount": money(d.amount_minor),
                "explanation": d.explanation,
            }
            for d in priced.basket_discounts
        ],
        "subtotal": money(priced.subtotal_minor),
        "discount": money(priced.discount_minor),
        "total": money(priced.total_minor),
        "shipping": money(priced.shipping_minor),
        "shipping_discount": money(priced.shipping_discount_minor),
        "grand_total": money(priced.grand_total_minor),
        "free_shipping": priced.free_shipping,
        "bonus_points": priced.bonus_points,
        "applied": [
            {
                "promotion_id": a.promotion_id,
                "name": a.name,
                "discount": money(a.discount_minor),
                "bonus_points": a.bonus_points,
                "free_shipping": a.free_shipping,
                "coupon": a.coupon,
            }
            for a in priced.applied
        ],
        "not_applied": [
            {"promotion_id": n.promotion_id, "name": n.name, "reason": n.reason}
            for n in priced.not_applied
        ],
    }
