"""RFM attributes and segments: /v1/segments, a customer's attributes, purchase history import."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from omnicanal.api.catalog import amount_text
from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Channel, Principal
from omnicanal.customers import attributes, segments
from omnicanal.customers.activity_tables import SegmentMemberRow, SegmentRow
from omnicanal.customers.model import SALES_CHANNELS
from omnicanal.customers.segments_model import days_between, describe_attributes
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["segments"])

RULE_EXAMPLE = {
    "all": [
        {"attr": "frequency", "op": ">=", "value": 3},
        {"attr": "recency_days", "op": "<=", "value": 90},
    ]
}

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str = Field(description='A decimal string such as "59.90".', examples=["59.90"])
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])

    @field_validator("amount", mode="before")
    @classmethod
    def _decimal_string(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(
                'send the amount as a decimal string such as "59.90", not a JSON number'
            )
        return value


class MoneyOut(BaseModel):
    amount: str = Field(examples=["59.90"], description="A decimal string, never a float.")
    currency: str = Field(examples=["EUR"])


def _money(value: Money | None) -> MoneyOut | None:
    if value is None:
        return None
    return MoneyOut(amount=amount_text(value), currency=value.currency)


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["Loyal and recent"])
    description: str | None = Field(default=None, max_length=500)
    rule: dict[str, Any] = Field(
        description="A condition tree: {'all': [...]}, {'any': [...]}, {'not': rule} or "
        "{'attr', 'op', 'value'}; attributes and operators at GET /v1/segments/attributes.",
        examples=[RULE_EXAMPLE],
    )


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    rule: dict[str, Any] | None = None


class SegmentPublic(BaseModel):
    id: str
    name: str
    description: str | None
    rule: dict[str, Any]
    member_count: int
    created_at: datetime
    updated_at: datetime
    computed_at: datetime


class SegmentDefinedOut(SegmentPublic):
    entered: int = Field(description="Profiles that entered with this definition.")
    left: int = Field(description="Profiles that left with this definition.")


class MemberPublic(BaseModel):
    profile_id: str
    entered_at: datetime


class AttributeDoc(BaseModel):
    attr: str
    type: str
    ops: str
    about: str


class ScoresOut(BaseModel):
    recency: int | None
    frequency: int | None
    monetary: int | None
    code: str | None = Field(description="The RFM cell, '545'; null for a non-buyer.")


class SegmentMembership(BaseModel):
    id: str
    name: str
    entered_at: datetime


class CustomerAttributesPublic(BaseModel):
    profile_id: str
    resolved_from: str | None
    frequency: int = Field(description="Purchases counted (cancelled orders excluded).")
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    recency_days: int | None
    monetary: MoneyOut | None = Field(description="Net spent: purchases minus refunds.")
    total_spent: MoneyOut | None
    total_refunded: MoneyOut | None
    return_count: int
    channels: list[str]
    other_currencies: dict[str, dict[str, int]] = Field(
        description="Amounts in another currency than the profile's, in minor units (never "
        "converted)."
    )
    scores: ScoresOut
    segments: list[SegmentMembership]
    updated_at: datetime | None


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["purchase", "return"] = "purchase"
    ref: str = Field(
        min_length=1,
        max_length=100,
        description="The channel's own reference (till ticket, marketplace order): counted once "
        "per channel and reference.",
        examples=["LYON-3-000123"],
    )
    occurred_at: AwareDatetime
    total: MoneyIn | None = Field(
        default=None, description="A purchase's total, a return's refund."
    )
    store_id: str | None = Field(default=None, max_length=40)
    order_ref: str | None = Field(default=None, max_length=100, description="A return's sale.")
    channel: str | None = Field(
        default=None, description="Defaults to the key's channel; admin keys may name another."
    )


class PurchaseOut(BaseModel):
    profile_id: str
    kind: str
    ref: str
    channel: str
    store_id: str | None
    total: MoneyOut | None
    occurred_at: datetime
    created: bool = Field(description="False when this reference was already recorded.")


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _segment(row: SegmentRow) -> SegmentPublic:
    return SegmentPublic(
        id=row.id,
        name=row.name,
        description=row.description,
        rule=row.rule,
        member_count=row.member_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
        computed_at=row.computed_at,
    )


def _defined(row: SegmentRow, result: segments.Recomputed) -> SegmentDefinedOut:
    return SegmentDefinedOut(**_segment(row).model_dump(), entered=result.entered, left=result.left)


def _member(row: SegmentMemberRow) -> MemberPublic:
    return MemberPublic(profile_id=row.profile_id, entered_at=row.entered_at)


# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------


@router.post("/segments", status_code=201, response_model=SegmentDefinedOut)
def create_segment(
    body: SegmentCreate, write: Annotated[Write, Depends(writer("segments:manage"))]
) -> object:
    """Define a segment by a rule over RFM attributes; it is evaluated at once against every
    profile (``customers.segment.entered`` for each member), then kept up to date as purchases,
    returns and time change each profile's attributes."""

    def use_case(uow: UnitOfWork) -> SegmentDefinedOut:
        row, result = segments.define_segment(
            uow,
            name=body.name,
            rule=body.rule,
            description=body.description,
            created_by=write.principal.key_id,
        )
        return _defined(row, result)

    return write.run(use_case, status_code=201)


@router.get("/segments", response_model=Page[SegmentPublic])
def list_segments(
    db: DbDep,
    _: Annotated[Principal, Depends(require("customers:read"))],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    with db.read() as session:
        rows, next_cursor = segments.list_segments(session, cursor=cursor, limit=limit)
        return Page[SegmentPublic](data=[_segment(r) for r in rows], next_cursor=next_cursor)


@router.get("/segments/attributes", response_model=list[AttributeDoc])
def rule_attributes(_: Annotated[Principal, Depends(require("customers:read"))]) -> object:
    """What a segment rule can name, its type and operators."""
    return [AttributeDoc(**doc) for doc in describe_attributes()]


@router.get("/segments/{segment_id}", response_model=SegmentPublic)
def get_segment(
    segment_id: str, db: DbDep, _: Annotated[Principal, Depends(require("customers:read"))]
) -> object:
    with db.read() as session:
        return _segment(segments.get_segment(session, segment_id))


@router.put("/segments/{segment_id}", response_model=SegmentDefinedOut)
def update_segment(
    segment_id: str,
    body: SegmentUpdate,
    write: Annotated[Write, Depends(writer("segments:manage"))],
) -> object:
    """Rename, re-describe, or change the rule (re-evaluated against every profile at once)."""
    if body.name is None and body.description is None and body.rule is None:
        raise InvalidInput("Give a name, a description or a rule to change.", field="body")

    def use_case(uow: UnitOfWork) -> SegmentDefinedOut:
        row, result = segments.redefine_segment(
            uow, segment_id, name=body.name, rule=body.rule, description=body.description
        )
        return _defined(row, result)

    return write.run(use_case)


@router.get("/segments/{segment_id}/members", response_model=Page[MemberPublic])
def segment_members(
    segment_id: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require("customers:read"))],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    with db.read() as session:
        rows, next_cursor = segments.members_page(session, segment_id, cursor=cursor, limit=limit)
        return Page[MemberPublic](data=[_member(r) for r in rows], next_cursor=next_cursor)


# ---------------------------------------------------------------------------------------------
# A customer's attributes and purchase history
# ---------------------------------------------------------------------------------------------


@router.get("/customers/{customer_id}/attributes", response_model=CustomerAttributesPublic)
def customer_attributes(
    customer_id: str, db: DbDep, _: Annotated[Principal, Depends(require("customers:read"))]
) -> object:
    """RFM attributes and scores now, and the segments the customer is in."""
    now = db.clock.now()
    with db.read() as session:
        view = attributes.attributes_view(session, customer_id, now=now)
    state = view.state
    currency = state.currency
    return CustomerAttributesPublic(
        profile_id=view.profile.id,
        resolved_from=customer_id if customer_id != view.profile.id else None,
        frequency=state.frequency,
        first_purchase_at=state.first_purchase_at,
        last_purchase_at=state.last_purchase_at,
        recency_days=(
            days_between(state.last_purchase_at, now) if state.last_purchase_at else None
        ),
        monetary=_money(state.monetary),
        total_spent=_money(Money(state.spent_minor, currency) if currency else None),
        total_refunded=_money(Money(state.refunded_minor, currency) if currency else None),
        return_count=state.return_count,
        channels=list(state.channels),
        other_currencies={c: dict(v) for c, v in state.other_currencies.items()},
        scores=ScoresOut(
            recency=view.scores.recency,
            frequency=view.scores.frequency,
            monetary=view.scores.monetary,
            code=view.scores.code,
        ),
        segments=[
            SegmentMembership(id=seg.id, name=seg.name, entered_at=at) for seg, at in view.segments
        ],
        updated_at=view.updated_at,
    )


@router.post("/customers/{customer_id}/purchases", response_model=PurchaseOut)
def record_purchase(
    customer_id: str,
    body: PurchaseIn,
    write: Annotated[Write, Depends(writer("customers:write"))],
) -> object:
    """Import a sale or return the order system never saw (till history, a marketplace export)
    into the customer's RFM attributes. Counted once per channel and ``ref``: the same import
    again changes nothing; the same ``ref`` with other values is a 409."""
    principal = write.principal
    channel = principal.channel.value
    if body.channel is not None and body.channel != channel:
        if principal.channel is not Channel.ADMIN or body.channel not in SALES_CHANNELS:
            raise InvalidInput(
                "Only head-office keys import another channel's history, and the channel is "
                f"one of {', '.join(SALES_CHANNELS)}.",
                field="channel",
            )
        channel = body.channel
    store_id = body.store_id or principal.store_id
    if store_id is not None:
        check_store(principal, store_id)
    amount = (
        Money.of(body.total.amount, body.total.currency, field="total.amount")
        if (body.total)
        else None
    )
    fact = attributes.PurchaseInput(
        kind=body.kind,
        ref=f"{channel}:{body.ref}",
        channel=channel,
        occurred_at=body.occurred_at,
        amount=amount,
        store_id=store_id,
        order_ref=body.order_ref,
        source="import",
    )

    def use_case(uow: UnitOfWork) -> PurchaseOut:
        recorded = attributes.record_purchase(uow, customer_id, fact, cause="import")
        row = recorded.row
        return PurchaseOut(
            profile_id=row.profile_id,
            kind=row.kind,
            ref=body.ref,
            channel=row.channel,
            store_id=row.store_id,
            total=_money(
                Money(row.amount_minor, row.currency)
                if row.amount_minor is not None and row.currency
                else None
            ),
            occurred_at=row.occurred_at,
            created=recorded.created,
        )

    return write.run(use_case)
