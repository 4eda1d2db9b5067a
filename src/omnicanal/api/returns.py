"""/v1/returns: return anywhere (any channel's order, at any store or warehouse), the review
queue, exchange suggestions at the desk."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.auth.model import Principal
from omnicanal.returns import service, views
from omnicanal.returns.model import Condition, Outcome, Reason, ReturnStatus
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

# Identifiers in a query: no control characters (PostgreSQL refuses a NUL inside a string).
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_PRINTABLE)]

router = APIRouter(tags=["returns"])

ReadKey = Annotated[Principal, Depends(require("returns:read"))]
ReturnWrite = Annotated[Write, Depends(writer("returns:write"))]
ReviewWrite = Annotated[Write, Depends(writer("returns:review"))]


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_line_id: str | None = Field(default=None, max_length=40)
    sku: str | None = Field(
        default=None, max_length=64, description="Instead of order_line_id: the SKU sold."
    )
    quantity: StrictInt = Field(gt=0, le=999)
    reason: Reason
    condition: Condition
    received_sku: str | None = Field(
        default=None,
        max_length=64,
        description="The SKU scanned at the desk when it is not the one sold (sent to review).",
    )


class ExchangeLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(gt=0, le=999)


class ReturnCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=40)
    location_id: str = Field(
        min_length=1, max_length=40, description="The receiving store or warehouse."
    )
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=50)
    outcome: Outcome = Field(description="refund, store_credit or exchange (with exchange_lines)")
    exchange_lines: list[ExchangeLineIn] = Field(default_factory=list, max_length=20)
    csat_score: StrictInt | None = Field(default=None, ge=1, le=5)
    csat_comment: str | None = Field(default=None, max_length=1000)


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=500)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class SatisfactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: StrictInt = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)


def _view(uow: UnitOfWork, row: Any) -> dict[str, Any]:
    return views.return_view(row, service.return_lines(uow.session, row.id))


@router.post("/returns", status_code=201, summary="Return items of an order from any channel")
def request_return(body: ReturnCreate, write: ReturnWrite) -> object:
    """Standard returns complete at once: stock back at the receiving location, then refund,
    credit note or exchange. Ambiguous ones (and high-value customers) wait for review
    (status ``in_review``). An ineligible return is a 409 listing what may still come back."""
    principal = write.principal
    check_store(principal, body.location_id)

    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        row = service.request_return(
            uow,
            service.ReturnRequest(
                order_id=body.order_id,
                location_id=body.location_id,
                lines=[
                    service.ReturnLineRequest(
                        quantity=line.quantity,
                        reason=line.reason.value,
                        condition=line.condition.value,
                        order_line_id=line.order_line_id,
                        sku=line.sku,
                        received_sku=line.received_sku,
                    )
                    for line in body.lines
                ],
                outcome=body.outcome.value,
                channel=principal.channel.value,
                exchange_lines=[
                    service.ExchangeLine(ex.sku, ex.quantity) for ex in body.exchange_lines
                ],
                actor=principal.key_id,
                csat_score=body.csat_score,
                csat_comment=body.csat_comment,
            ),
        )
        return _view(uow, row)

    return write.run(use_case, status_code=201)


@router.get("/returns", summary="Find returns; the review queue is ?status=in_review")
def list_returns(
    db: DbDep,
    principal: ReadKey,
    status: ReturnStatus | None = None,
    order_id: str | None = None,
    location_id: str | None = None,
    customer_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    if principal.store_id:  # a store's key sees the returns its store received
        if location_id:
            check_store(principal, location_id)
        location_id = principal.store_id
    with db.read() as session:
        data, next_cursor = views.page(
            session,
            status=status.value if status else None,
            order_id=order_id,
            location_id=location_id,
            customer_id=customer_id,
            cursor=cursor,
            limit=limit,
        )
    return {"data": data, "next_cursor": next_cursor}


@router.get(
    "/returns/suggestions",
    summary="Exchange ideas at the desk before the return is made: ?location_id=&skus=…",
)
def suggestions_before(
    db: DbDep,
    principal: ReadKey,
    location_id: Annotated[str, Query(min_length=1, max_length=40, pattern=_PRINTABLE)],
    skus: Annotated[list[Sku], Query(min_length=1, max_length=20)],
) -> object:
    check_store(principal, location_id)
    with db.read() as session:
        return views.suggest_for(session, location_id, skus)


@router.get("/returns/{return_id}", summary="One return")
def get_return(return_id: str, db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        return views.one(session, return_id)


@router.get(
    "/returns/{return_id}/suggestions",
    summary="Exchange ideas: same product in another size or colour in this store, then items "
    "often bought with it",
)
def suggestions(return_id: str, db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        return views.suggestions(session, return_id)


@router.post("/returns/{return_id}/approve", summary="Approve a return waiting for review")
def approve(return_id: str, write: ReviewWrite, body: ApproveIn | None = None) -> object:
    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        row = service.approve(
            uow, return_id, reviewer=write.principal.key_id, note=body.note if body else None
        )
        return _view(uow, row)

    return write.run(use_case)


@router.post("/returns/{return_id}/reject", summary="Refuse a return waiting for review")
def reject(return_id: str, body: RejectIn, write: ReviewWrite) -> object:
    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        row = service.reject(uow, return_id, reviewer=write.principal.key_id, reason=body.reason)
        return _view(uow, row)

    return write.run(use_case)


@router.post("/returns/{return_id}/satisfaction", summary="The customer's rating of the return")
def satisfaction(return_id: str, body: SatisfactionIn, write: ReturnWrite) -> object:
    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        row = service.record_satisfaction(uow, return_id, score=body.score, comment=body.comment)
        return _view(uow, row)

    return write.run(use_case)
