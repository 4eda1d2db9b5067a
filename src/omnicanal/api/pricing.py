"""/v1 routes for pricing: resolve a price for a context, overrides, observations, price
history and the consistency audit. Base prices stay under /v1/prices/{sku}/{currency}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Channel, Principal
from omnicanal.pricing import audit, service, views
from omnicanal.pricing.model import (
    SALES_CHANNELS,
    AppliedOverride,
    Difference,
    Justification,
    PriceQuote,
    PriceScope,
    Reason,
)
from omnicanal.pricing.tables import PriceObservationRow, PriceOverrideRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money, check_currency
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["pricing"])

Reader = Annotated[Principal, Depends(require("pricing:read"))]
Manager = Annotated[Write, Depends(writer("pricing:manage"))]
Observer = Annotated[Write, Depends(writer("pricing:observe"))]

AMOUNT_DOC = 'A decimal string such as "19.99", with at most the currency\'s decimals.'
REASONS_DOC = (
    "Why the price differs: clearance, local_competition, marketplace_fee, store_closing or "
    "price_test. Only local_competition and marketplace_fee may be open-ended."
)


def _decimal_string(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError(
            'send the amount as a decimal string such as "19.99", not a JSON number '
            "(binary floats cannot hold cents exactly)"
        )
    return value


# --- schemas ----------------------------------------------------------------------------------


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str
    currency: str = Field(examples=["EUR"])
    amount: str = Field(description=AMOUNT_DOC, examples=["79.90"])
    channel: str | None = Field(default=None, description=", ".join(SALES_CHANNELS))
    store_id: str | None = Field(default=None, description="A store (loc_…).")
    territory: str | None = Field(default=None, examples=["FR-COR"])
    reason: Reason | None = Field(default=None, description=REASONS_DOC)
    owner: str | None = Field(default=None, description="Who decided it.", examples=["Pricing"])
    note: str | None = Field(default=None, description="Free text: the story behind it.")
    valid_from: AwareDatetime | None = Field(default=None, description="Default: now.")
    valid_until: AwareDatetime | None = None

    _amount = field_validator("amount", mode="before")(_decimal_string)


class OverrideImport(BaseModel):
    """A difference a legacy system already applies, recorded without a justification."""

    model_config = ConfigDict(extra="forbid")

    sku: str
    currency: str
    amount: str = Field(description=AMOUNT_DOC)
    channel: str | None = None
    store_id: str | None = None
    territory: str | None = None
    note: str = Field(default="", description="Where it came from, e.g. the legacy system.")
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None

    _amount = field_validator("amount", mode="before")(_decimal_string)


class OverrideUpdate(BaseModel):
    """Only the fields sent change. End an override by setting valid_until; approve an imported
    one by giving reason and owner."""

    model_config = ConfigDict(extra="forbid")

    amount: str | None = Field(default=None, description=AMOUNT_DOC)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    reason: Reason | None = None
    owner: str | None = None
    note: str | None = None

    _amount = field_validator("amount", mode="before")(_decimal_string)


class ScopePublic(BaseModel):
    channel: str | None
    store_id: str | None
    territory: str | None
    label: str = Field(examples=["store=loc_…+channel=pos"])


class OverridePublic(BaseModel):
    id: str
    sku: str
    currency: str
    amount: str
    scope: ScopePublic
    reason: str | None
    owner: str | None
    note: str
    justified: bool = Field(description="False only for an imported override not yet approved.")
    valid_from: datetime
    valid_until: datetime | None
    source: str
    created_at: datetime
    updated_at: datetime


class AppliedPublic(BaseModel):
    id: str
    scope: ScopePublic
    reason: str | None
    owner: str | None
    justified: bool
    valid_from: datetime
    valid_until: datetime | None


class QuotePublic(BaseModel):
    sku: str
    currency: str
    amount: str = Field(description="The price this context pays.")
    base_amount: str
    channel: str
    store_id: str | None
    territory: str | None
    at: datetime
    override: AppliedPublic | None = Field(description="null: the base price applies.")


class ObservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str
    currency: str
    amount: str = Field(description="The price charged, " + AMOUNT_DOC)
    channel: str | None = Field(default=None, description="Default: the key's channel.")
    store_id: str | None = Field(default=None, description="Default: the key's store.")
    observed_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    reference: str | None = Field(default=None, max_length=120, description="Receipt or line.")

    _amount = field_validator("amount", mode="before")(_decimal_string)


class ObservationPublic(BaseModel):
    id: str
    sku: str
    currency: str
    amount: str
    channel: str
    store_id: str | None
    observed_at: datetime
    reference: str | None


class DifferencePublic(BaseModel):
    source: str = Field(description="override (a rule) or observation (a channel's report).")
    amount: str
    expected_amount: str = Field(description="What the rules give this context.")
    channels: list[str]
    store_id: str | None
    territory: str | None
    override: AppliedPublic | None
    justified: bool
    problem: str | None
    observation_id: str | None
    observed_at: datetime | None


class SkuAuditPublic(BaseModel):
    sku: str
    currency: str
    base_amount: str
    differences: list[DifferencePublic]


class AuditPublic(Page[SkuAuditPublic]):
    at: datetime
    unjustified: int = Field(description="Unjustified differences on this page.")


class AuditRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = Field(default=None, description="Default: now.")


class AuditRunPublic(BaseModel):
    at: datetime
    skus: int
    differences: int
    unjustified: int
    flagged: int = Field(description="pricing.difference.unjustified events emitted by this run.")
    cleared: int = Field(description="pricing.difference.cleared events emitted by this run.")


class HistoryPublic(BaseModel):
    event_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


# --- mapping ----------------------------------------------------------------------------------


def _scope(scope: PriceScope) -> ScopePublic:
    return ScopePublic(
        channel=scope.channel, store_id=scope.store_id, territory=scope.territory, label=scope.label
    )


def _override(row: PriceOverrideRow) -> OverridePublic:
    scope = PriceScope(channel=row.channel, store_id=row.store_id, territory=row.territory)
    return OverridePublic(
        id=row.id,
        sku=row.sku,
        currency=row.currency,
        amount=service.amount_text(Money(row.amount_minor, row.currency)),
        scope=_scope(scope),
        reason=row.reason,
        owner=row.owner,
        note=row.note,
        justified=row.reason is not None and row.owner is not None,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _applied(applied: AppliedOverride | None) -> AppliedPublic | None:
    if applied is None:
        return None
    return AppliedPublic(
        id=applied.id,
        scope=_scope(applied.scope),
        reason=applied.reason.value if applied.reason else None,
        owner=applied.owner,
        justified=applied.justified,
        valid_from=applied.window.valid_from,
        valid_until=applied.window.valid_until,
    )


def _difference(d: Difference) -> DifferencePublic:
    return DifferencePublic(
        source=d.source.value,
        amount=service.amount_text(d.price),
        expected_amount=service.amount_text(d.expected),
        channels=list(d.channels),
        store_id=d.store_id,
        territory=d.territory,
        override=_applied(d.override),
        justified=d.justified,
        problem=d.problem,
        observation_id=d.observation_id,
        observed_at=d.observed_at,
    )


def _scope_of(body: OverrideCreate | OverrideImport) -> PriceScope:
    return PriceScope.parse(channel=body.channel, store_id=body.store_id, territory=body.territory)


def _money(amount: str, currency: str) -> Money:
    return Money.of(amount, check_currency(currency))


def _channel_of(principal: Principal, channel: str | None) -> str:
    """A channel key speaks for its own channel; an admin key names one."""
    if channel is not None:
        return channel
    if principal.channel is Channel.ADMIN:
        raise InvalidInput(
            f"Say which channel to price for: channel is one of {', '.join(SALES_CHANNELS)}.",
            field="channel",
        )
    return principal.channel.value


# --- resolution and history -------------------------------------------------------------------


@router.get("/prices/{sku}/resolve", response_model=QuotePublic)
def resolve_price(
    sku: str,
    db: DbDep,
    principal: Reader,
    currency: Annotated[str, Query(examples=["EUR"])],
    channel: Annotated[str | None, Query(description="Default: the key's channel.")] = None,
    store_id: Annotated[str | None, Query(description="Default: the key's store.")] = None,
    territory: Annotated[
        str | None, Query(description="Default: the store's territory, if any.")
    ] = None,
    at: Annotated[AwareDatetime | None, Query(description="Default: now.")] = None,
) -> object:
    """The price a context pays for a SKU, and the override that decides it (null: base)."""
    code = check_currency(currency)
    chosen = _channel_of(principal, channel)
    store = store_id if store_id is not None else principal.store_id
    with db.read() as session:
        when = at or db.clock.now()
        quote: PriceQuote = service.resolve_price(
            session,
            sku,
            currency=code,
            channel=chosen,
            store_id=store,
            territory=territory,
            at=when,
        )
        if territory is None and store is not None:
            territory = service.store_territory(session, store)
    return QuotePublic(
        sku=sku,
        currency=code,
        amount=service.amount_text(quote.price),
        base_amount=service.amount_text(quote.base),
        channel=chosen,
        store_id=store,
        territory=territory,
        at=when,
        override=_applied(quote.override),
    )


@router.get("/prices/{sku}/history", response_model=Page[HistoryPublic])
def price_history(
    sku: str,
    db: DbDep,
    _: Reader,
    currency: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> object:
    """Every change of the SKU's base prices and overrides, oldest first (from the events)."""
    code = check_currency(currency) if currency else None
    with db.read() as session:
        entries, next_cursor = views.price_history(
            session, sku, currency=code, cursor=cursor, limit=limit
        )
    return Page[HistoryPublic](
        data=[
            HistoryPublic(event_id=e.event_id, type=e.type, occurred_at=e.occurred_at, data=e.data)
            for e in entries
        ],
        next_cursor=next_cursor,
    )


# --- overrides --------------------------------------------------------------------------------


@router.post("/pricing/overrides", status_code=201, response_model=OverridePublic)
def create_override(body: OverrideCreate, write: Manager) -> object:
    """A price for a channel, store, territory or combination, with its justification: reason,
    owner and validity window. Without them: 422 naming the missing field."""
    price = _money(body.amount, body.currency)
    scope = _scope_of(body)
    justification = Justification.parse(
        reason=body.reason.value if body.reason else None, owner=body.owner, note=body.note
    )

    def use_case(uow: UnitOfWork) -> OverridePublic:
        row = service.create_override(
            uow,
            sku=body.sku,
            price=price,
            scope=scope,
            justification=justification,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            created_by=write.principal.key_id,
        )
        return _override(row)

    return write.run(use_case, status_code=201)


@router.post("/pricing/overrides/import", status_code=201, response_model=OverridePublic)
def import_override(body: OverrideImport, write: Manager) -> object:
    """Record a difference a legacy system already applies, without a justification: it
    applies, and the audit flags it until it is approved (PATCH reason, owner) or ended."""
    price = _money(body.amount, body.currency)
    scope = _scope_of(body)

    def use_case(uow: UnitOfWork) -> OverridePublic:
        row = service.import_override(
            uow,
            sku=body.sku,
            price=price,
            scope=scope,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            note=body.note,
            created_by=write.principal.key_id,
        )
        return _override(row)

    return write.run(use_case, status_code=201)


@router.get("/pricing/overrides", response_model=Page[OverridePublic])
def list_overrides(
    db: DbDep,
    _: Reader,
    sku: str | None = None,
    currency: str | None = None,
    channel: str | None = None,
    store_id: str | None = None,
    territory: str | None = None,
    in_force_at: Annotated[
        AwareDatetime | None, Query(description="Only overrides in force at this instant.")
    ] = None,
    justified: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> object:
    with db.read() as session:
        rows, next_cursor = views.list_overrides(
            session,
            sku=sku,
            currency=check_currency(currency) if currency else None,
            channel=channel,
            store_id=store_id,
            territory=territory,
            in_force_at=in_force_at,
            justified=justified,
            cursor=cursor,
            limit=limit,
        )
        return Page[OverridePublic](data=[_override(r) for r in rows], next_cursor=next_cursor)


@router.get("/pricing/overrides/{override_id}", response_model=OverridePublic)
def get_override(override_id: str, db: DbDep, _: Reader) -> object:
    with db.read() as session:
        return _override(service.load_override(session, override_id))


@router.patch("/pricing/overrides/{override_id}", response_model=OverridePublic)
def update_override(override_id: str, body: OverrideUpdate, write: Manager) -> object:
    sent = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in sent.items() if k != "amount"}
    if "reason" in changes and changes["reason"] is not None:
        changes["reason"] = changes["reason"].value

    def use_case(uow: UnitOfWork) -> OverridePublic:
        if sent.get("amount") is not None:
            row = service.load_override(uow.session, override_id)
            changes["amount"] = _money(sent["amount"], row.currency)
        return _override(service.update_override(uow, override_id, changes=changes))

    return write.run(use_case)


# --- observations and audit -------------------------------------------------------------------


@router.post("/pricing/observations", status_code=201, response_model=ObservationPublic)
def record_observation(body: ObservationCreate, write: Observer) -> object:
    """A channel reports a price it charged; the audit flags it when no rule gives that price.
    A store-bound key reports for its own store."""
    principal = write.principal
    price = _money(body.amount, body.currency)
    channel = _channel_of(principal, body.channel)
    store_id = body.store_id if body.store_id is not None else principal.store_id
    if store_id is not None:
        check_store(principal, store_id)  # a store-bound key reports for its own store only

    def use_case(uow: UnitOfWork) -> ObservationPublic:
        row: PriceObservationRow = service.record_observation(
            uow,
            sku=body.sku,
            price=price,
            channel=channel,
            store_id=store_id,
            observed_at=body.observed_at,
            reference=body.reference,
            reported_by=principal.key_id,
        )
        return ObservationPublic(
            id=row.id,
            sku=row.sku,
            currency=row.currency,
            amount=service.amount_text(price),
            channel=row.channel,
            store_id=row.store_id,
            observed_at=row.observed_at,
            reference=row.reference,
        )

    return write.run(use_case, status_code=201)


@router.get("/pricing/audit", response_model=AuditPublic)
def price_audit(
    db: DbDep,
    _: Reader,
    at: Annotated[AwareDatetime | None, Query(description="Default: now.")] = None,
    currency: str | None = None,
    sku: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> object:
    """Every SKU whose price differs between channels, stores or territories at ``at``, each
    difference with the override behind it and whether a justification covers it. Read only:
    POST /v1/pricing/audit/runs flags the unjustified ones as events."""
    with db.read() as session:
        report = audit.audit(
            session,
            at=at or db.clock.now(),
            currency=check_currency(currency) if currency else None,
            sku=sku,
            cursor=cursor,
            limit=limit,
        )
    return AuditPublic(
        at=report.at,
        data=[
            SkuAuditPublic(
                sku=e.sku,
                currency=e.currency,
                base_amount=service.amount_text(e.base),
                differences=[_difference(d) for d in e.differences],
            )
            for e in report.entries
        ],
        next_cursor=report.next_cursor,
        unjustified=len(report.unjustified),
    )


@router.post("/pricing/audit/runs", status_code=201, response_model=AuditRunPublic)
def run_price_audit(body: AuditRunCreate, write: Manager) -> object:
    """Audit every SKU and emit pricing.difference.unjustified for each unjustified difference
    not flagged before (or changed since), pricing.difference.cleared for each one gone."""

    def use_case(uow: UnitOfWork) -> AuditRunPublic:
        run = audit.run_audit(uow, at=body.at)
        return AuditRunPublic(
            at=run.at,
            skus=run.skus,
            differences=run.differences,
            unjustified=run.unjustified,
            flagged=run.flagged,
            cleared=run.cleared,
        )

    return write.run(use_case, status_code=201)
