"""Return anywhere: request, eligibility, decision, then receipt (restock where received) and
the customer's settlement (refund, store credit or exchange), all in the caller's transaction.

``request_return`` refuses an ineligible return with what may still come back, changing
nothing; a standard return is completed at once, an ambiguous one waits in the review queue
(``approve`` / ``reject``). Completion puts the units back in stock at the RECEIVING location
through the inventory ledger, settles the customer and emits ``returns.return.received``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import ProductRow, VariantRow
from omnicanal.inventory import service as inventory
from omnicanal.orders import service as orders
from omnicanal.orders.tables import FulfilmentGroupRow, OrderLineRow, OrderPaymentRow, OrderRow
from omnicanal.returns import events
from omnicanal.returns.model import (
    DEFAULT_POLICY,
    Condition,
    LineFacts,
    LineForReview,
    Outcome,
    Reason,
    ReturnPolicy,
    ReturnStatus,
    check_choice,
    decide,
    eligibility,
    refund_for,
)
from omnicanal.returns.tables import ReturnLineRow, ReturnRow
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money
from omnicanal.storage.uow import UnitOfWork

DONE_STATUSES = ("collected", "delivered")
COUNTED_STATUSES = (ReturnStatus.IN_REVIEW.value, ReturnStatus.COMPLETED.value)
MAX_LINES = 50


@dataclass(frozen=True, slots=True)
class ReturnLineRequest:
    quantity: int
    reason: str
    condition: str
    order_line_id: str | None = None
    sku: str | None = None
    received_sku: str | None = None  # what the associate scanned, when not the SKU sold


@dataclass(frozen=True, slots=True)
class ExchangeLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReturnRequest:
    order_id: str
    location_id: str
    lines: Sequence[ReturnLineRequest]
    outcome: str
    channel: str
    exchange_lines: Sequence[ExchangeLine] = ()
    actor: str | None = None
    csat_score: int | None = None
    csat_comment: str | None = None


@dataclass
class _Resolved:
    facts: LineFacts
    request: ReturnLineRequest
    reason: Reason
    condition: Condition
    sku: str  # what came back
    late: bool
    refund_minor: int


# -- lookups -----------------------------------------------------------------------------------
def get_return(session: Session, return_id: str, *, lock: bool = False) -> ReturnRow:
    stmt = select(ReturnRow).where(ReturnRow.id == return_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalars(stmt.execution_options(populate_existing=lock)).first()
    if row is None:
        raise NotFound(
            f"No return {return_id}; list returns with GET /v1/returns?order_id=….",
            code="return-not-found",
            field="return_id",
            return_id=return_id,
        )
    return row


def return_lines(session: Session, return_id: str) -> list[ReturnLineRow]:
    return list(
        session.scalars(
            select(ReturnLineRow)
            .where(ReturnLineRow.return_id == return_id)
            .order_by(ReturnLineRow.id)
        )
    )


def _line_facts(session: Session, order: OrderRow) -> dict[str, LineFacts]:
    rows = session.execute(
        select(OrderLineRow, FulfilmentGroupRow.status, FulfilmentGroupRow.done_at)
        .join(FulfilmentGroupRow, FulfilmentGroupRow.id == OrderLineRow.group_id)
        .where(OrderLineRow.order_id == order.id)
        .order_by(OrderLineRow.id)
    ).all()
    returned = dict(
        session.execute(
            select(ReturnLineRow.order_line_id, func.sum(ReturnLineRow.quantity))
            .join(ReturnRow, ReturnRow.id == ReturnLineRow.return_id)
            .where(ReturnRow.order_id == order.id, ReturnRow.status.in_(COUNTED_STATUSES))
            .group_by(ReturnLineRow.order_line_id)
        ).all()
    )
    skus = sorted({line.sku for line, _, _ in rows})
    final = _final_sale(session, skus)
    facts = {}
    for line, status, done_at in rows:
        done = status in DONE_STATUSES
        facts[line.id] = LineFacts(
            order_line_id=line.id,
            sku=line.sku,
            ordered=line.quantity,
            received_by_customer=(line.quantity - line.quantity_cancelled) if done else 0,
            already_returned=int(returned.get(line.id) or 0),
            unit_price_minor=line.unit_price_minor,
            discount_minor=line.discount_minor,
            done_at=done_at if done else None,
            final_sale=line.sku in final,
        )
    return facts


def _is_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes"))


def _final_sale(session: Session, skus: Sequence[str]) -> set[str]:
    """SKUs sold as final sale: ``attributes["final_sale"] == "true"`` on the variant or its
    product."""
    if not skus:
        return set()
    rows = session.execute(
        select(VariantRow.sku, VariantRow.attributes, ProductRow.attributes)
        .join(ProductRow, ProductRow.id == VariantRow.product_id)
        .where(VariantRow.sku.in_(skus))
    ).all()
    return {
        sku
        for sku, variant, product in rows
        if _is_true((variant or {}).get("final_sale"))
        or _is_true((product or {}).get("final_sale"))
    }


def _live_customer(session: Session, customer_id: str | None) -> str | None:
    if customer_id is None:
        return None
    from omnicanal.customers.service import resolve

    try:
        profile = resolve(session, customer_id)
    except NotFound:
        return customer_id
    return profile.id if profile.status == "active" else None


def _customer_value(session: Session, customer_id: str | None) -> tuple[int | None, list[str]]:
    if customer_id is None:
        return None, []
    from omnicanal.customers.activity_tables import (
        CustomerAttributesRow,
        SegmentMemberRow,
        SegmentRow,
    )

    attributes = session.get(CustomerAttributesRow, customer_id)
    segments = list(
        session.scalars(
            select(SegmentRow.name)
            .join(SegmentMemberRow, SegmentMemberRow.segment_id == SegmentRow.id)
            .where(SegmentMemberRow.profile_id == customer_id)
        )
    )
    return (attributes.m_score if attributes else None), segments


# -- requesting ----------------------------------------------------------------------------------
def _check_request(request: ReturnRequest) -> Outcome:
    outcome = check_choice(Outcome, request.outcome, field="outcome")
    if not request.lines:
        raise InvalidInput("Give at least one line to return.", field="lines")
    if len(request.lines) > MAX_LINES:
        raise InvalidInput(f"At most {MAX_LINES} lines per return.", field="lines")
    for i, line in enumerate(request.lines):
        if (line.order_line_id is None) == (line.sku is None):
            raise InvalidInput(
                "Name each returned line by order_line_id or by sku (one of them).",
                field=f"lines[{i}].order_line_id",
            )
        if not 1 <= line.quantity <= 999:
            raise InvalidInput("quantity is between 1 and 999.", field=f"lines[{i}].quantity")
    if outcome is Outcome.EXCHANGE and not request.exchange_lines:
        raise InvalidInput(
            "An exchange needs exchange_lines: the replacement items (see GET "
            "/v1/returns/{id}/suggestions for what the store has).",
            field="exchange_lines",
        )
    if outcome is not Outcome.EXCHANGE and request.exchange_lines:
        raise InvalidInput(
            "exchange_lines go with outcome 'exchange' only.", field="exchange_lines"
        )
    for i, ex in enumerate(request.exchange_lines):
        if not 1 <= ex.quantity <= 999:
            raise InvalidInput(
                "quantity is between 1 and 999.", field=f"exchange_lines[{i}].quantity"
            )
    if request.csat_score is not None and not 1 <= request.csat_score <= 5:
        raise InvalidInput("csat_score is from 1 to 5.", field="csat_score")
    return outcome


def _pick_line(
    facts: dict[str, LineFacts], taken: dict[str, int], line: ReturnLineRequest, where: str
) -> LineFacts:
    if line.order_line_id is not None:
        found = facts.get(line.order_line_id)
        if found is None:
            raise InvalidInput(
                f"Order line {line.order_line_id} is not on this order; GET /v1/orders/{{id}} "
                "lists its lines.",
                field=f"{where}.order_line_id",
            )
        return found
    candidates = [f for f in facts.values() if f.sku == line.sku]
    if not candidates:
        raise InvalidInput(
            f"SKU {line.sku} is not on this order; return it with the order it was bought on.",
            field=f"{where}.sku",
            sku=line.sku,
        )
    return max(
        candidates,
        key=lambda f: f.received_by_customer - f.already_returned - taken.get(f.order_line_id, 0),
    )


def _returnable(
    facts: dict[str, LineFacts], now: datetime, policy: ReturnPolicy
) -> list[dict[str, Any]]:
    out = []
    for f in facts.values():
        e = eligibility(f, now, policy)
        out.append(
            {
                "order_line_id": f.order_line_id,
                "sku": f.sku,
                "quantity": e.returnable,
                "until": e.until.isoformat() if e.until else None,
                "review_needed": e.late,
                "why_not": e.problem,
            }
        )
    return out


def _resolve_lines(
    session: Session,
    request: ReturnRequest,
    facts: dict[str, LineFacts],
    now: datetime,
    policy: ReturnPolicy,
) -> list[_Resolved]:
    taken: dict[str, int] = {}
    resolved: list[_Resolved] = []
    problems: list[str] = []
    for i, line in enumerate(request.lines):
        where = f"lines[{i}]"
        reason = check_choice(Reason, line.reason, field=f"{where}.reason")
        condition = check_choice(Condition, line.condition, field=f"{where}.condition")
        base = _pick_line(facts, taken, line, where)
        already = base.already_returned + taken.get(base.order_line_id, 0)
        current = LineFacts(**{**_as_dict(base), "already_returned": already})
        verdict = eligibility(current, now, policy)
        if line.quantity > verdict.returnable:
            problems.append(
                verdict.problem
                or f"Only {verdict.returnable} unit(s) of {base.sku} may still be returned, "
                f"not {line.quantity}."
            )
            continue
        taken[base.order_line_id] = taken.get(base.order_line_id, 0) + line.quantity
        received = line.received_sku or base.sku
        resolved.append(
            _Resolved(
                facts=current,
                request=line,
                reason=reason,
                condition=condition,
                sku=received,
                late=verdict.late,
                refund_minor=refund_for(current, line.quantity),
            )
        )
    if problems:
        raise Conflict(
            " ".join(problems) + " 'returnable' lists what may still come back.",
            code="return-not-eligible",
            field="lines",
            returnable=_returnable(facts, now, policy),
        )
    mismatched = sorted({r.sku for r in resolved if r.sku != r.facts.sku})
    if mismatched:
        inventory.require_skus(session, mismatched)
    return resolved


def _as_dict(facts: LineFacts) -> dict[str, Any]:
    return {name: getattr(facts, name) for name in LineFacts.__slots__}


def request_return(
    uow: UnitOfWork, request: ReturnRequest, *, policy: ReturnPolicy = DEFAULT_POLICY
) -> ReturnRow:
    outcome = _check_request(request)
    session = uow.session
    order = orders.get_order(session, request.order_id, lock=True)  # one return at a time
    location = inventory.require_location(session, request.location_id)
    if location.status != "active":
        raise Conflict(
            f"Location {location.code} is {location.status}; returns go to an active store or "
            "warehouse.",
            code="location-inactive",
            field="location_id",
        )
    if request.exchange_lines:
        inventory.require_skus(session, [ex.sku for ex in request.exchange_lines])
    now = uow.now()
    facts = _line_facts(session, order)
    resolved = _resolve_lines(session, request, facts, now, policy)
    refund_minor = sum(r.refund_minor for r in resolved)
    customer_id = _live_customer(session, order.customer_id)
    m_score, segments = _customer_value(session, customer_id)
    decision = decide(
        [
            LineForReview(
                sku=r.sku,
                reason=r.reason,
                condition=r.condition,
                late=r.late,
                mismatched=r.sku != r.facts.sku,
            )
            for r in resolved
        ],
        refund_minor=refund_minor,
        customer_m_score=m_score,
        customer_segments=segments,
        policy=policy,
    )
    row = ReturnRow(
        id=new_id("ret"),
        order_id=order.id,
        order_channel=order.channel,
        channel=request.channel,
        location_id=location.id,
        customer_id=customer_id,
        status=ReturnStatus.IN_REVIEW.value,
        outcome=outcome.value,
        review_reasons=[r.value for r in decision.reasons],
        currency=order.currency,
        refund_minor=refund_minor,
        money_refunded_minor=0,
        to_pay_minor=0,
        exchange_lines=[{"sku": ex.sku, "quantity": ex.quantity} for ex in request.exchange_lines],
        csat_score=request.csat_score,
        csat_comment=request.csat_comment,
        requested_by=request.actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    lines = [
        ReturnLineRow(
            id=new_id("rtl"),
            return_id=row.id,
            order_line_id=r.facts.order_line_id,
            sku=r.sku,
            ordered_sku=r.facts.sku,
            quantity=r.request.quantity,
            reason=r.reason.value,
            condition=r.condition.value,
            refund_minor=r.refund_minor,
        )
        for r in resolved
    ]
    session.add_all(lines)
    session.flush()
    uow.emit(
        events.ReturnRequested(
            **common_fields(row, lines),
            status=ReturnStatus.COMPLETED.value if decision.automatic else row.status,
            resolution=row.outcome,
            currency=row.currency,
            refund_minor=row.refund_minor,
            item_count=sum(line.quantity for line in lines),
            lines=[
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "condition": line.condition,
                    "reason": line.reason,
                }
                for line in lines
            ],
        )
    )
    if decision.automatic:
        _complete(uow, row, order, lines)
    else:
        uow.emit(
            events.ReturnInReview(
                **common_fields(row, lines),
                status=row.status,
                reasons=list(row.review_reasons),
                refund_minor=row.refund_minor,
                currency=row.currency,
            )
        )
    return row


def common_fields(row: ReturnRow, lines: Sequence[ReturnLineRow]) -> dict[str, Any]:
    return {
        "return_id": row.id,
        "order_id": row.order_id,
        "customer_id": row.customer_id,
        "profile_id": row.customer_id,
        "channel": row.channel,
        "order_channel": row.order_channel,
        "store_id": row.location_id,
        "location_id": row.location_id,
        "skus": sorted({line.sku for line in lines} | {line.ordered_sku for line in lines}),
    }


# -- review ------------------------------------------------------------------------------------
def _in_review(session: Session, return_id: str) -> ReturnRow:
    row = get_return(session, return_id, lock=True)
    if row.status != ReturnStatus.IN_REVIEW.value:
        raise Conflict(
            f"Return {return_id} is {row.status}, not waiting for review; nothing to decide.",
            code="return-not-in-review",
            status=row.status,
        )
    return row


def approve(
    uow: UnitOfWork, return_id: str, *, reviewer: str | None, note: str | None = None
) -> ReturnRow:
    session = uow.session
    row = get_return(session, return_id)
    order = orders.get_order(session, row.order_id, lock=True)
    row = _in_review(session, return_id)
    row.reviewed_by = reviewer
    row.decision_note = note
    _complete(uow, row, order, return_lines(session, row.id))
    return row


def reject(uow: UnitOfWork, return_id: str, *, reviewer: str | None, reason: str) -> ReturnRow:
    if not reason.strip():
        raise InvalidInput("Say why the return is refused; the customer is told.", field="reason")
    session = uow.session
    row = _in_review(session, return_id)
    now = uow.now()
    row.status = ReturnStatus.REJECTED.value
    row.reviewed_by = reviewer
    row.decision_note = reason.strip()[:500]
    row.decided_at = now
    row.updated_at = now
    uow.emit(
        events.ReturnRejected(
            **common_fields(row, return_lines(session, row.id)), status=row.status, reason=reason
        )
    )
    return row


def record_satisfaction(
    uow: UnitOfWork, return_id: str, *, score: int, comment: str | None = None
) -> ReturnRow:
    if not 1 <= score <= 5:
        raise InvalidInput("score is from 1 to 5.", field="score")
    row = get_return(uow.session, return_id)
    row.csat_score = score
    row.csat_comment = comment
    row.updated_at = uow.now()
    return row


# -- completion --------------------------------------------------------------------------------
def _complete(
    uow: UnitOfWork, row: ReturnRow, order: OrderRow, lines: Sequence[ReturnLineRow]
) -> None:
    _restock(uow, row, lines)
    from omnicanal.returns import settlement

    outcome = Outcome(row.outcome)
    if outcome is Outcome.REFUND:
        settlement.refund(uow, row, order, lines, amount_minor=row.refund_minor)
    elif outcome is Outcome.STORE_CREDIT:
        settlement.store_credit(uow, row, lines)
    else:
        settlement.exchange(uow, row, order, lines)
    now = uow.now()
    row.status = ReturnStatus.COMPLETED.value
    row.decided_at = now
    row.updated_at = now
    refund = Money(row.refund_minor, row.currency)
    uow.emit(
        events.ReturnReceived(
            **common_fields(row, lines),
            status=row.status,
            resolution=row.outcome,
            refund_minor=row.refund_minor,
            currency=row.currency,
            refund={"amount": str(refund.amount), "currency": row.currency},
            money_refunded_minor=row.money_refunded_minor,
            item_count=sum(line.quantity for line in lines),
            lines=[
                {"sku": line.sku, "quantity": line.quantity, "condition": line.condition}
                for line in lines
            ],
            credit_note_id=row.credit_note_id,
            exchange_order_id=row.exchange_order_id,
        )
    )


def _restock(uow: UnitOfWork, row: ReturnRow, lines: Sequence[ReturnLineRow]) -> None:
    """Back into stock where the customer brought them: sellable units on sale, the others
    kept aside as damaged; one ledger movement per SKU and condition."""
    buckets: dict[bool, dict[str, int]] = {True: {}, False: {}}
    for line in lines:
        bucket = buckets[Condition(line.condition).sellable]
        bucket[line.sku] = bucket.get(line.sku, 0) + line.quantity
    for sellable, wanted in buckets.items():
        if not wanted:
            continue
        inventory.take_return(
            uow,
            location_id=row.location_id,
            lines=[inventory.Line(sku, qty) for sku, qty in sorted(wanted.items())],
            sellable=sellable,
            ref=inventory.Reference(
                "return", row.id, "returned" if sellable else "returned damaged"
            ),
            actor=row.reviewed_by or row.requested_by,
        )


def original_payment(session: Session, order_id: str) -> OrderPaymentRow | None:
    """The payment a refund goes back to: captured before authorised, loyalty points aside."""
    payments = list(
        session.scalars(
            select(OrderPaymentRow)
            .where(
                OrderPaymentRow.order_id == order_id,
                OrderPaymentRow.kind.in_(("captured", "authorised")),
                OrderPaymentRow.provider != "loyalty",
            )
            .order_by(OrderPaymentRow.created_at, OrderPaymentRow.id)
        )
    )
    captured = [p for p in payments if p.kind == "captured"]
    chosen = captured or payments
    return chosen[0] if chosen else None
