"""/v1/notifications and /v1/customers/{id}/messages: the delivery log, back-in-stock alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.customers.service import resolve
from omnicanal.customers.views import absorbed_ids
from omnicanal.notifications import service, views
from omnicanal.notifications.model import Channel, Status
from omnicanal.notifications.tables import BackInStockSubscriptionRow, NotificationMessageRow
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["notifications"])


class MessagePublic(BaseModel):
    id: str
    customer_id: str | None
    order_id: str | None
    channel: str
    purpose: str
    template: str
    status: Status
    reason: str | None = Field(
        description="Why it was suppressed (e.g. order-cancelled, item-returned, no-consent:…, "
        "frequency-cap:…) or postponed (quiet-hours); see docs/notifications.md."
    )
    title: str | None = Field(description="The subject as sent (null until sent, or erased).")
    recipient: str | None
    not_before: datetime
    sent_at: datetime | None
    created_at: datetime
    trigger: str | None


class Near(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0, le=service.MAX_RADIUS_KM)


class BackInStockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(max_length=40)
    sku: str = Field(min_length=1, max_length=64)
    near: Near
    channel: Channel = Channel.EMAIL


class BackInStockPublic(BaseModel):
    id: str
    customer_id: str
    sku: str
    near: Near
    channel: Channel
    status: str
    created_at: datetime


def _message(row: NotificationMessageRow) -> MessagePublic:
    return MessagePublic(
        id=row.id,
        customer_id=row.customer_id,
        order_id=row.order_id,
        channel=row.channel,
        purpose=row.purpose,
        template=row.template,
        status=Status(row.status),
        reason=row.reason,
        title=row.title,
        recipient=row.recipient,
        not_before=row.not_before,
        sent_at=row.sent_at,
        created_at=row.created_at,
        trigger=row.trigger,
    )


def _subscription(row: BackInStockSubscriptionRow) -> BackInStockPublic:
    return BackInStockPublic(
        id=row.id,
        customer_id=row.customer_id,
        sku=row.sku,
        near=Near(lat=row.latitude, lon=row.longitude, radius_km=row.radius_km),
        channel=Channel(row.channel),
        status=row.status,
        created_at=row.created_at,
    )


@router.get(
    "/customers/{customer_id}/messages",
    response_model=Page[MessagePublic],
    summary="The customer's messages: sent, suppressed (with why) and waiting",
)
def customer_messages(
    customer_id: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require("notifications:read"))],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    """Oldest first, those of profiles merged into this one included."""
    with db.read() as session:
        profile = resolve(session, customer_id)
        ids = [profile.id, *absorbed_ids(session, profile.id)]
        rows, next_cursor = views.list_messages(
            session, customer_ids=ids, cursor=cursor, limit=limit
        )
        return Page[MessagePublic](data=[_message(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/notifications",
    response_model=Page[MessagePublic],
    summary="Head office: every message, by status (?status=suppressed)",
)
def list_notifications(
    db: DbDep,
    _: Annotated[Principal, Depends(require("notifications:read"))],
    status: Status | None = None,
    order_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    with db.read() as session:
        rows, next_cursor = views.list_messages(
            session, status=status, order_id=order_id, cursor=cursor, limit=limit
        )
        return Page[MessagePublic](data=[_message(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/notifications/back-in-stock",
    status_code=201,
    response_model=BackInStockPublic,
    summary="Tell a customer when a SKU is back in a store near a point",
)
def subscribe_back_in_stock(
    body: BackInStockCreate,
    write: Annotated[Write, Depends(writer("notifications:write"))],
) -> object:
    """Fulfilled once, by the first store within ``radius_km`` of ``near`` whose stock of the
    SKU comes back; the alert is marketing (consent and frequency caps apply at send time)."""

    def use_case(uow: UnitOfWork) -> BackInStockPublic:
        row = service.subscribe_back_in_stock(
            uow,
            customer_id=body.customer_id,
            sku=body.sku,
            latitude=body.near.lat,
            longitude=body.near.lon,
            radius_km=body.near.radius_km,
            channel=body.channel,
        )
        uow.session.flush()
        return _subscription(row)

    return write.run(use_case, status_code=201)
