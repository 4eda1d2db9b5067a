"""/v1/tills: a till's offline sales synced once whatever the retries, stock conflicts listed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.api.problems import STATUS_BY_KIND
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.customers.model import normalise_card
from omnicanal.idempotency import service as idempotency
from omnicanal.shared.errors import DomainError, InvalidInput
from omnicanal.shared.money import Money, check_currency
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.paging import keyset_page
from omnicanal.storage.uow import UnitOfWork
from omnicanal.tills import service
from omnicanal.tills.model import Outcome, Payment, SaleLine, TillSale
from omnicanal.tills.service import BatchResult, SaleResult, Till
from omnicanal.tills.tables import TillStockConflictRow

router = APIRouter(prefix="/tills", tags=["tills"])
SyncKey = Annotated[Principal, Depends(require("tills:sync"))]
SyncWrite = Annotated[Write, Depends(writer("tills:sync"))]
StockWrite = Annotated[Write, Depends(writer("inventory:write"))]

_DECIMAL = r"^[0-9]{1,12}(\.[0-9]{1,3})?$"
_TILL_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_NO_EDGE_SPACE = r"^\S(.*\S)?$"

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class SaleLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=100_000, description="Units sold (returns are not sales).")
    unit_price: str = Field(
        pattern=_DECIMAL, examples=["59.90"], description="Price paid per unit; decimal string."
    )


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(
        min_length=1, max_length=30, examples=["card"], description="card, cash, loyalty…"
    )
    reference: str = Field(
        min_length=1, max_length=100, description="The payment provider's own reference."
    )
    amount: str = Field(pattern=_DECIMAL, examples=["59.90"])


class SaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sale_id: str = Field(
        min_length=1,
        max_length=36,
        pattern=_NO_EDGE_SPACE,
        description="The till's own number for the sale: resent, it is recorded once.",
    )
    sold_at: AwareDatetime = Field(description="When the till rang it up, with its UTC offset.")
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    lines: list[SaleLineIn] = Field(min_length=1, max_length=200)
    customer_id: str | None = Field(default=None, min_length=1, max_length=40)
    card: str | None = Field(
        default=None, min_length=1, max_length=60, description="A loyalty card number scanned."
    )
    payments: list[PaymentIn] = Field(default_factory=list, max_length=20)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_id: str = Field(min_length=1, max_length=40)
    till_id: str = Field(min_length=1, max_length=30, pattern=_TILL_ID)
    sales: list[SaleIn] = Field(min_length=1, max_length=500)


class StockConflictNote(BaseModel):
    id: str
    sku: str
    sold: int
    recorded: int = Field(description="Units taken off the store's stock.")
    short_by: int = Field(description="Units sold beyond what the store held.")


class SaleProblem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    field: str | None = None


class SaleOutcome(BaseModel):
    index: int = Field(description="Position of the sale in the batch sent.")
    sale_id: str
    outcome: Literal["recorded", "duplicate", "conflict", "rejected"]
    till_sale_id: str | None = None
    stock_conflicts: list[StockConflictNote] = Field(default_factory=list)
    customer_id: str | None = None
    points_earned: int = 0
    problem: SaleProblem | None = None


class BatchOut(BaseModel):
    batch_id: str
    store_id: str
    till_id: str
    received: int
    recorded: int
    duplicates: int
    conflicts: int
    rejected: int
    stock_conflicts: int = Field(description="Stock conflicts raised by the sales recorded now.")
    sales: list[SaleOutcome]


class ConflictPublic(BaseModel):
    id: str
    till_sale_id: str
    store_id: str
    till_id: str
    sale_id: str
    sku: str
    sold: int
    recorded: int
    short_by: int
    sold_at: datetime
    created_at: datetime
    resolved: bool
    resolved_at: datetime | None
    resolution_note: str | None


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(
        min_length=1, max_length=500, description="How it was settled (a count, a late receipt)."
    )


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _sale(i: int, body: SaleIn) -> TillSale:
    """The validated domain sale; a bad amount or currency names its field in the batch."""
    if body.customer_id is not None and body.card is not None:
        raise InvalidInput("Give customer_id or card, not both.", field=f"sales[{i}].card")
    currency = check_currency(body.currency, field=f"sales[{i}].currency")
    card = normalise_card(body.card, field_name=f"sales[{i}].card") if body.card else None
    return TillSale(
        sale_id=body.sale_id,
        sold_at=body.sold_at.astimezone(UTC),
        currency=currency,
        lines=tuple(
            SaleLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price_minor=Money.of(
                    line.unit_price, currency, field=f"sales[{i}].lines[{j}].unit_price"
                ).minor,
            )
            for j, line in enumerate(body.lines)
        ),
        payments=tuple(
            Payment(
                provider=p.provider,
                reference=p.reference,
                amount_minor=Money.of(p.amount, currency, field=f"sales[{i}].payments[{k}]").minor,
            )
            for k, p in enumerate(body.payments)
        ),
        customer_id=body.customer_id,
        card=card,
    )


def _problem(error: DomainError) -> SaleProblem:
    return SaleProblem(
        type=f"/problems/{error.code}",
        title=error.title,
        status=STATUS_BY_KIND[error.kind],
        detail=error.detail,
        field=error.field,
    )


def _outcome(result: SaleResult) -> SaleOutcome:
    return SaleOutcome(
        index=result.index,
        sale_id=result.sale_id,
        outcome=result.outcome.value,
        till_sale_id=result.till_sale_id,
        stock_conflicts=[
            StockConflictNote(
                id=c.id, sku=c.sku, sold=c.sold, recorded=c.recorded, short_by=c.short_by
            )
            for c in result.stock_conflicts
        ],
        customer_id=result.customer_id,
        points_earned=result.points_earned,
        problem=_problem(result.problem) if result.problem else None,
    )


def _batch(result: BatchResult) -> BatchOut:
    return BatchOut(
        batch_id=result.batch_id,
        store_id=result.till.store_id,
        till_id=result.till.till_id,
        received=len(result.sales),
        recorded=result.count(Outcome.RECORDED),
        duplicates=result.count(Outcome.DUPLICATE),
        conflicts=result.count(Outcome.CONFLICT),
        rejected=result.count(Outcome.REJECTED),
        stock_conflicts=sum(
            len(s.stock_conflicts) for s in result.sales if s.outcome is Outcome.RECORDED
        ),
        sales=[_outcome(s) for s in result.sales],
    )


def _nothing_recorded(result: BatchResult) -> DomainError:
    """Not one sale recorded nor already there: the batch fails as its first faulty sale does."""
    first = next(s.problem for s in result.sales if s.problem is not None)
    error = DomainError(
        f"No sale of this batch could be recorded; nothing changed. Sale {first.field}: "
        f"{first.detail}",
        code=first.code,
        title=first.title,
        field=first.field,
        sales=[_outcome(s).model_dump(mode="json") for s in result.sales],
    )
    error.kind = first.kind
    return error


def _answered_before(write: Write) -> bool:
    if not write.key:
        return False
    with write.db.read() as session:
        return idempotency.find(session, write.principal.key_id, write.key) is not None


def _conflict(row: TillStockConflictRow) -> ConflictPublic:
    return ConflictPublic(
        id=row.id,
        till_sale_id=row.till_sale_id,
        store_id=row.store_id,
        till_id=row.till_id,
        sale_id=row.sale_id,
        sku=row.sku,
        sold=row.sold,
        recorded=row.sold - row.short_by,
        short_by=row.short_by,
        sold_at=row.sold_at,
        created_at=row.created_at,
        resolved=row.resolved_at is not None,
        resolved_at=row.resolved_at,
        resolution_note=row.resolution_note,
    )


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@router.post("/sales:batch", response_model=BatchOut)
def sync_sales(body: BatchIn, write: SyncWrite) -> JSONResponse:
    """A till's offline sales, in any order, possibly sent before: each sale is recorded once by
    (store, till, sale_id), in its own transaction — a stock `sale` movement at the store, the
    loyalty purchase (points for a card or customer), the recommendations basket and a
    `tills.sale.recorded` event. A resent sale is a `duplicate` and changes nothing; the same
    sale id with another body is a `conflict`; a sale naming an unknown SKU is `rejected`. When
    the till sold more than the store held, what it held leaves stock (never below what is held
    for others) and the rest is a stock conflict (`tsc_…`, `tills.stock.conflict`), listed by
    `GET /v1/tills/conflicts`. A batch none of whose sales is recorded or already known is an
    error (422/409 problem with every sale's outcome in `sales`)."""
    check_store(write.principal, body.store_id)
    sales = [_sale(i, s) for i, s in enumerate(body.sales)]  # a malformed batch changes nothing
    if _answered_before(write):
        return write.run(lambda uow: None)  # replays the first answer (or 422: another body)
    till = Till(
        store_id=body.store_id,
        till_id=body.till_id,
        channel=write.principal.channel.value,
        api_key_id=write.principal.key_id,
    )
    result = service.sync_batch(write.db, till=till, sales=sales)
    if not any(s.outcome in (Outcome.RECORDED, Outcome.DUPLICATE) for s in result.sales):
        raise _nothing_recorded(result)

    def use_case(uow: UnitOfWork) -> BatchOut:
        service.record_batch(uow, result)
        return _batch(result)

    return write.run(use_case)


@router.get("/conflicts", response_model=Page[ConflictPublic])
def list_conflicts(
    db: DbDep,
    principal: SyncKey,
    store_id: Annotated[
        str | None, Query(max_length=40, description="A store-bound key: its store.")
    ] = None,
    resolved: Annotated[bool | None, Query(description="Open (false) or settled (true).")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> object:
    """Stock conflicts: sales a till made beyond what the store held, oldest first."""
    if store_id is not None:
        check_store(principal, store_id)
    store_id = store_id or principal.store_id
    row = TillStockConflictRow
    stmt = select(row)
    if store_id is not None:
        stmt = stmt.where(row.store_id == store_id)
    if resolved is not None:
        stmt = stmt.where(row.resolved_at.is_not(None) if resolved else row.resolved_at.is_(None))
    with db.read() as session:
        rows, next_cursor = keyset_page(
            session, stmt, order_by=[row.created_at, row.id], cursor=cursor, limit=limit
        )
        return Page[ConflictPublic](data=[_conflict(r) for r in rows], next_cursor=next_cursor)


@router.get("/conflicts/{conflict_id}", response_model=ConflictPublic)
def get_conflict(conflict_id: str, db: DbDep, principal: SyncKey) -> object:
    with db.read() as session:
        row = service.get_conflict(session, conflict_id)
        check_store(principal, row.store_id)
        return _conflict(row)


@router.post("/conflicts/{conflict_id}/resolve", response_model=ConflictPublic)
def resolve_conflict(conflict_id: str, body: ResolveIn, write: StockWrite) -> object:
    """Mark a conflict settled once the stock is put right (a count with
    `POST /v1/stock/adjustments`, or a late receipt)."""

    def use_case(uow: UnitOfWork) -> ConflictPublic:
        check_store(write.principal, service.get_conflict(uow.session, conflict_id).store_id)
        row = service.resolve_conflict(
            uow, conflict_id, note=body.note, actor=write.principal.key_id
        )
        return _conflict(row)

    return write.run(use_case)
