"""/v1/recommendations: items bought together on every channel (exchanges, tills, offers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.auth.model import Channel, Principal
from omnicanal.recommendations import service, views
from omnicanal.recommendations.service import Purchase
from omnicanal.shared.errors import Forbidden, InvalidInput
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(prefix="/recommendations", tags=["recommendations"])
ReadKey = Annotated[Principal, Depends(require("recommendations:read"))]
RecoWrite = Annotated[Write, Depends(writer("recommendations:write"))]


class SuggestionPublic(BaseModel):
    sku: str
    title: str | None
    score: float = Field(description="Sum of cosine similarities with the SKUs it is based on.")


class RecommendationsPublic(BaseModel):
    based_on: list[str] = Field(description="The SKUs (cart lines, history) it started from.")
    items: list[SuggestionPublic]
    store_id: str | None = Field(description="Items are available to promise there, if set.")
    model_version: int


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(default=1, ge=1, le=100_000)


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_ref: str = Field(
        min_length=1, max_length=80, description="The till's receipt number: recorded once."
    )
    source: Literal["till", "import"] = "till"
    channel: Channel | None = Field(
        default=None, description="The key's channel if absent; only admin keys may give another."
    )
    customer_id: str | None = Field(default=None, max_length=40)
    store_id: str | None = Field(default=None, max_length=40)
    occurred_at: datetime
    lines: list[LineIn] = Field(min_length=1, max_length=500)


class PurchasesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purchases: list[PurchaseIn] = Field(min_length=1, max_length=1000)


class PurchasesOut(BaseModel):
    recorded: int = Field(description="Purchases new to recommendations.")
    already_known: int = Field(description="Purchases recorded before (same source and ref).")


def _public(found: views.Suggestions) -> RecommendationsPublic:
    return RecommendationsPublic(
        based_on=found.based_on,
        items=[SuggestionPublic(sku=s.sku, title=s.title, score=s.score) for s in found.items],
        store_id=found.store_id,
        model_version=found.model_version,
    )


@router.get("", response_model=RecommendationsPublic)
def recommendations(
    db: DbDep,
    principal: ReadKey,
    cart_id: Annotated[str | None, Query(max_length=40)] = None,
    customer_id: Annotated[str | None, Query(max_length=40)] = None,
    sku: Annotated[list[str] | None, Query(max_length=64)] = None,
    store_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> RecommendationsPublic:
    """Exactly one of ``cart_id`` (accessories for the cart, in stock at its store),
    ``customer_id`` (next-best-offer from their purchases on every channel) or ``sku``
    (bought with; repeat it for several)."""
    given = [
        name
        for name, value in (("cart_id", cart_id), ("customer_id", customer_id), ("sku", sku))
        if value
    ]
    if len(given) != 1:
        raise InvalidInput(
            "Give exactly one of cart_id, customer_id or sku.",
            field=given[1] if len(given) > 1 else "cart_id",
            given=given,
        )
    store = store_id or principal.store_id
    if store_id is not None:
        check_store(principal, store_id)
    with db.read() as session:
        if cart_id:
            found = views.for_cart(
                session, cart_id, now=db.clock.now(), limit=limit, store_id=store
            )
        elif customer_id:
            found = views.for_customer(session, customer_id, now=db.clock.now(), limit=limit)
        else:
            assert sku is not None
            found = views.for_skus(session, sku, limit=limit, store_id=store_id)
    return _public(found)


@router.post("/purchases", response_model=PurchasesOut)
def record_purchases(body: PurchasesIn, write: RecoWrite) -> object:
    """Baskets bought where no order exists (till sales, history imports); the same
    ``external_ref`` (per source) again is ignored."""
    principal = write.principal
    for purchase in body.purchases:
        if purchase.channel not in (None, principal.channel) and principal.channel != Channel.ADMIN:
            raise Forbidden(
                f"A {principal.channel.value} key records its own channel's purchases only.",
                code="wrong-channel",
                field="channel",
            )
        if purchase.store_id is not None:
            check_store(principal, purchase.store_id)

    def use_case(uow: UnitOfWork) -> dict[str, int]:
        recorded = 0
        for purchase in body.purchases:
            basket = service.record_purchase(
                uow,
                Purchase(
                    source=purchase.source,
                    source_ref=purchase.external_ref,
                    channel=(purchase.channel or principal.channel).value,
                    skus=[(line.sku, line.quantity) for line in purchase.lines],
                    at=purchase.occurred_at,
                    customer_id=purchase.customer_id,
                    store_id=purchase.store_id or principal.store_id,
                ),
            )
            recorded += basket is not None
        return {"recorded": recorded, "already_known": len(body.purchases) - recorded}

    return write.run(use_case)
