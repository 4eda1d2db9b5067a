"""/v1/keys: API key administration (scope keys:manage)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth import service
from omnicanal.auth.model import Channel, Principal
from omnicanal.auth.tables import ApiKeyRow
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.paging import keyset_page
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["keys"])


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Till 3, Lyon Part-Dieu"])
    channel: Channel
    scopes: list[str] | None = Field(
        default=None, description="Defaults to the channel's usual scopes."
    )
    store_id: str | None = Field(
        default=None, description="Binds the key to one store (store associates, tills)."
    )


class KeyPublic(BaseModel):
    id: str
    name: str
    prefix: str
    channel: Channel
    scopes: list[str]
    store_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    secret: str = Field(description="The key itself. Shown once: store it now.")


def _public(row: ApiKeyRow) -> KeyPublic:
    return KeyPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        channel=Channel(row.channel),
        scopes=row.scopes,
        store_id=row.store_id,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


@router.post("/keys", status_code=201, response_model=KeyCreated)
def create_key(body: KeyCreate, write: Annotated[Write, Depends(writer("keys:manage"))]) -> object:
    def use_case(uow: UnitOfWork) -> KeyCreated:
        created = service.create_key(
            uow,
            name=body.name,
            channel=body.channel.value,
            scopes=body.scopes,
            store_id=body.store_id,
        )
        row = uow.session.get(ApiKeyRow, created.principal.key_id)
        assert row is not None
        return KeyCreated(**_public(row).model_dump(), secret=created.secret)

    return write.run(use_case, status_code=201)


@router.get("/keys", response_model=Page[KeyPublic])
def list_keys(
    db: DbDep,
    _: Annotated[Principal, Depends(require("keys:manage"))],
    q: Annotated[str | None, Query(description="Text in the key's name.")] = None,
    channel: Channel | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    stmt = select(ApiKeyRow)
    if q:
        stmt = stmt.where(ApiKeyRow.name.ilike(f"%{q}%"))
    if channel:
        stmt = stmt.where(ApiKeyRow.channel == channel.value)
    with db.read() as session:
        rows, next_cursor = keyset_page(
            session, stmt, order_by=[ApiKeyRow.id], cursor=cursor, limit=limit
        )
        return Page[KeyPublic](data=[_public(r) for r in rows], next_cursor=next_cursor)


@router.post("/keys/{key_id}/revoke", response_model=KeyPublic)
def revoke_key(key_id: str, write: Annotated[Write, Depends(writer("keys:manage"))]) -> object:
    def use_case(uow: UnitOfWork) -> KeyPublic:
        service.revoke_key(uow, key_id)
        row = uow.session.get(ApiKeyRow, key_id)
        assert row is not None
        return _public(row)

    return write.run(use_case)
