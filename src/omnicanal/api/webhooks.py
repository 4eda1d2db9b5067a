"""/v1/webhooks: endpoints, their deliveries, the dead-letter list and redelivery."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.events import webhooks as service
from omnicanal.events.tables import WebhookDeliveryRow, WebhookEndpointRow
from omnicanal.shared.errors import NotFound
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.paging import keyset_page
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["webhooks"])
MANAGE = "webhooks:manage"


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000, examples=["https://shop.example.com/hooks/omnicanal"])
    event_types: list[str] = Field(
        min_length=1,
        examples=[["inventory.stock.*", "customers.profile.merged"]],
        description="Event types or 'prefix.*' patterns ('*' for all); see GET /v1/events/types.",
    )
    description: str | None = Field(default=None, max_length=500)


class WebhookUpdate(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class WebhookPublic(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    created_at: datetime
    disabled_at: datetime | None


class WebhookWithSecret(WebhookPublic):
    secret: str = Field(
        description="Signs every delivery (Omnicanal-Signature header). Shown once: store it now."
    )


class DeliveryPublic(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    position: int
    status: str = Field(description="pending, delivered or dead")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _public(row: WebhookEndpointRow) -> WebhookPublic:
    return WebhookPublic(
        id=row.id,
        url=row.url,
        event_types=row.event_types,
        description=row.description,
        active=row.active,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def _delivery(row: WebhookDeliveryRow) -> DeliveryPublic:
    return DeliveryPublic(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        position=row.position,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


@router.post("/webhooks", status_code=201, response_model=WebhookWithSecret)
def create_webhook(body: WebhookCreate, write: Annotated[Write, Depends(writer(MANAGE))]) -> object:
    """Subscribe an endpoint. Events published from now on are delivered, signed."""

    def use_case(uow: UnitOfWork) -> WebhookWithSecret:
        created = service.create_endpoint(
            uow,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            created_by=write.principal.key_id,
        )
        return WebhookWithSecret(**_public(created.endpoint).model_dump(), secret=created.secret)

    return write.run(use_case, status_code=201)


@router.get("/webhooks", response_model=Page[WebhookPublic])
def list_webhooks(
    db: DbDep,
    _: Annotated[Principal, Depends(require(MANAGE))],
    active: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    stmt = select(WebhookEndpointRow)
    if active is not None:
        stmt = stmt.where(WebhookEndpointRow.active.is_(active))
    with db.read() as session:
        rows, next_cursor = keyset_page(
            session, stmt, order_by=[WebhookEndpointRow.id], cursor=cursor, limit=limit
        )
        return Page[WebhookPublic](data=[_public(r) for r in rows], next_cursor=next_cursor)


@router.get("/webhooks/{endpoint_id}", response_model=WebhookPublic)
def get_webhook(
    endpoint_id: str, db: DbDep, _: Annotated[Principal, Depends(require(MANAGE))]
) -> object:
    with db.read() as session:
        row = session.get(WebhookEndpointRow, endpoint_id)
        if row is None:
            raise NotFound(f"No webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id)
        return _public(row)


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookPublic)
def update_webhook(
    endpoint_id: str, body: WebhookUpdate, write: Annotated[Write, Depends(writer(MANAGE))]
) -> object:
    """Change the URL or the subscribed types, or pause (active=false) and resume."""

    def use_case(uow: UnitOfWork) -> WebhookPublic:
        row = service.update_endpoint(
            uow,
            endpoint_id,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            active=body.active,
        )
        return _public(row)

    return write.run(use_case)


@router.post("/webhooks/{endpoint_id}/rotate-secret", response_model=WebhookWithSecret)
def rotate_secret(endpoint_id: str, write: Annotated[Write, Depends(writer(MANAGE))]) -> object:
    """A new signing secret, effective for the next attempt of every delivery."""

    def use_case(uow: UnitOfWork) -> WebhookWithSecret:
        rotated = service.rotate_secret(uow, endpoint_id)
        return WebhookWithSecret(**_public(rotated.endpoint).model_dump(), secret=rotated.secret)

    return write.run(use_case)


def _deliveries(
    db: DbDep,
    *,
    endpoint_id: str | None,
    status: str | None,
    event_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[DeliveryPublic]:
    stmt = select(WebhookDeliveryRow).where(
        *service.deliveries_filter(endpoint_id=endpoint_id, status=status, event_id=event_id)
    )
    with db.read() as session:
        rows, next_cursor = keyset_page(
            session, stmt, order_by=[WebhookDeliveryRow.id], cursor=cursor, limit=limit
        )
        return Page[DeliveryPublic](data=[_delivery(r) for r in rows], next_cursor=next_cursor)


StatusQuery = Annotated[str | None, Query(description="pending, delivered or dead")]


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=Page[DeliveryPublic])
def endpoint_deliveries(
    endpoint_id: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require(MANAGE))],
    status: StatusQuery = None,
    event_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    with db.read() as session:
        if session.get(WebhookEndpointRow, endpoint_id) is None:
            raise NotFound(f"No webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id)
    return _deliveries(
        db, endpoint_id=endpoint_id, status=status, event_id=event_id, limit=limit, cursor=cursor
    )


@router.get("/webhook-deliveries", response_model=Page[DeliveryPublic])
def all_deliveries(
    db: DbDep,
    _: Annotated[Principal, Depends(require(MANAGE))],
    status: StatusQuery = None,
    event_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    """Deliveries of every endpoint; ``?status=dead`` is the dead-letter list."""
    return _deliveries(
        db, endpoint_id=None, status=status, event_id=event_id, limit=limit, cursor=cursor
    )


@router.post("/webhook-deliveries/{delivery_id}/redeliver", response_model=DeliveryPublic)
def redeliver(delivery_id: str, write: Annotated[Write, Depends(writer(MANAGE))]) -> object:
    """Queue a dead (or delivered) delivery again with a fresh series of attempts."""

    def use_case(uow: UnitOfWork) -> DeliveryPublic:
        return _delivery(service.redeliver(uow, delivery_id))

    return write.run(use_case)
