"""The customer timeline: channel activity ingestion and the cross-channel timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from omnicanal.api.customers import IdentifierIn
from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Channel, Principal
from omnicanal.customers import timeline
from omnicanal.customers.activity_tables import TimelineEntryRow
from omnicanal.customers.model import SALES_CHANNELS, normalise_identifiers
from omnicanal.customers.service import MAX_IDENTIFIERS
from omnicanal.customers.timeline import ActivityInput, TimelineKind
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["customer timeline"])

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class SessionPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_type: Literal["desktop", "mobile", "tablet", "app", "kiosk", "other"] | None = None
    app_version: str | None = Field(default=None, max_length=40)
    landing_page: str | None = Field(
        default=None, max_length=500, description="A path, without personal query parameters."
    )
    referrer: str | None = Field(default=None, max_length=200, examples=["google.com"])
    campaign: str | None = Field(default=None, max_length=100, examples=["black-friday"])
    duration_seconds: int | None = Field(default=None, ge=0, description="On a session end.")


class ViewPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64, examples=["TSH-BLU-M"])
    product_id: str | None = Field(default=None, max_length=40)


class SearchPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=200, examples=["chaussures trail"])
    results: int | None = Field(default=None, ge=0)


class _ActivityBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: AwareDatetime | None = Field(
        default=None, description="When the channel saw it (UTC or with an offset); default now."
    )
    session_id: str | None = Field(
        default=None,
        max_length=100,
        description="The channel's session id: sessions, views, searches and orders carrying the "
        "same one make the omnichannel conversion KPI (sessions → orders).",
    )
    store_id: str | None = Field(
        default=None, max_length=40, description="The store, for a kiosk or a store visit."
    )
    channel: str | None = Field(
        default=None,
        description="Defaults to the key's channel; only head-office (admin) keys may name "
        "another, to import history.",
    )


class SessionActivity(_ActivityBase):
    kind: Literal["session"]
    action: Literal["started", "ended"] = "started"
    payload: SessionPayload = Field(default_factory=SessionPayload)


class ViewActivity(_ActivityBase):
    kind: Literal["view"]
    action: Literal["viewed"] = "viewed"
    payload: ViewPayload


class SearchActivity(_ActivityBase):
    kind: Literal["search"]
    action: Literal["searched"] = "searched"
    payload: SearchPayload


ActivityIn = Annotated[SessionActivity | ViewActivity | SearchActivity, Field(discriminator="kind")]


class ActivitiesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activities: list[ActivityIn] = Field(min_length=1, max_length=timeline.MAX_ACTIVITIES)


class IdentifiedActivitiesIn(ActivitiesIn):
    identifiers: list[IdentifierIn] = Field(
        min_length=1,
        max_length=MAX_IDENTIFIERS,
        description="Who did it, as the channel knows them (device_id, cookie, login_id, email…): "
        "resolved like POST /v1/customers/identify, so identifiers seen together are linked and "
        "a first-time visitor gets a profile.",
    )
    phone_region: str = Field(default="FR", pattern=r"^[A-Z]{2}$")
    source_ref: str | None = Field(
        default=None, max_length=200, description="No personal data.", examples=["app:session:s-9"]
    )


class TimelineEntryPublic(BaseModel):
    id: str
    profile_id: str
    kind: TimelineKind
    action: str
    channel: str | None
    store_id: str | None
    session_id: str | None
    ref: str | None = Field(description="The cart, order, return, ticket id; the SKU viewed.")
    payload: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    source: Literal["event", "api", "import"]
    source_event_type: str | None


class ActivitiesRecorded(BaseModel):
    profile_id: str
    outcome: Literal["given", "created", "matched", "linked", "merged"] = Field(
        description="'given' when the profile id was in the path; else how the identifiers "
        "resolved."
    )
    activities: list[TimelineEntryPublic]


class TimelinePublic(Page[TimelineEntryPublic]):
    profile_id: str
    resolved_from: str | None = Field(
        default=None, description="The merged id that was asked for, when it is not this one."
    )


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _entry(row: TimelineEntryRow) -> TimelineEntryPublic:
    return TimelineEntryPublic(
        id=row.id,
        profile_id=row.profile_id,
        kind=TimelineKind(row.kind),
        action=row.action,
        channel=row.channel,
        store_id=row.store_id,
        session_id=row.session_id,
        ref=row.ref,
        payload=row.payload or {},
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        source=row.source,
        source_event_type=row.source_event_type,
    )


def _channel(principal: Principal, asked: str | None, where: str) -> str:
    if asked is None or asked == principal.channel.value:
        return principal.channel.value
    if principal.channel is not Channel.ADMIN:
        raise InvalidInput(
            f"A {principal.channel.value} key records {principal.channel.value} activity; leave "
            "channel out (only head-office keys import other channels' history).",
            field=where,
        )
    if asked not in SALES_CHANNELS:
        raise InvalidInput(
            f"Unknown channel '{asked}'; use one of {', '.join(SALES_CHANNELS)}.", field=where
        )
    return asked


def _inputs(principal: Principal, body: ActivitiesIn) -> list[ActivityInput]:
    out: list[ActivityInput] = []
    for i, item in enumerate(body.activities):
        store_id = item.store_id or principal.store_id
        if store_id is not None:
            check_store(principal, store_id)
        ref = item.payload.sku if isinstance(item, ViewActivity) else None
        out.append(
            ActivityInput(
                kind=TimelineKind(item.kind),
                action=item.action,
                channel=_channel(principal, item.channel, f"activities[{i}].channel"),
                occurred_at=item.occurred_at,
                store_id=store_id,
                session_id=item.session_id,
                ref=ref,
                payload=item.payload.model_dump(exclude_none=True),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@router.post("/activities", response_model=ActivitiesRecorded)
def record_identified_activities(
    body: IdentifiedActivitiesIn,
    write: Annotated[Write, Depends(writer("customers:write"))],
) -> object:
    """Sessions, product views and searches of a customer known by identifiers (an app by its
    device id, the site by its first-party cookie or login). They land on the profile the
    identifiers resolve to: the same one as the customer's orders, tickets and till sales."""
    identifiers = normalise_identifiers(
        [(i.kind, i.value) for i in body.identifiers], region=body.phone_region
    )
    inputs = _inputs(write.principal, body)

    def use_case(uow: UnitOfWork) -> ActivitiesRecorded:
        result, rows = timeline.record_for_identifiers(
            uow,
            identifiers,
            inputs,
            channel=write.principal.channel.value,
            source_ref=body.source_ref,
        )
        return ActivitiesRecorded(
            profile_id=result.profile_id,
            outcome=result.outcome,
            activities=[_entry(r) for r in rows],
        )

    return write.run(use_case)


@router.post("/customers/{customer_id}/activities", response_model=ActivitiesRecorded)
def record_activities(
    customer_id: str,
    body: ActivitiesIn,
    write: Annotated[Write, Depends(writer("customers:write"))],
) -> object:
    """Sessions, product views and searches of a known customer (a merged id records on its
    survivor)."""
    inputs = _inputs(write.principal, body)

    def use_case(uow: UnitOfWork) -> ActivitiesRecorded:
        rows = timeline.record_activities(uow, customer_id, inputs)
        return ActivitiesRecorded(
            profile_id=rows[0].profile_id, outcome="given", activities=[_entry(r) for r in rows]
        )

    return write.run(use_case)


@router.get("/customers/{customer_id}/timeline", response_model=TimelinePublic)
def get_timeline(
    customer_id: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require("customers:read"))],
    kind: Annotated[
        list[str] | None,
        Query(
            description="Only these kinds (repeat, or comma-separate): session, view, search, "
            "cart, order, return, ticket, message, profile."
        ),
    ] = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    """Everything the customer did and met, in every channel and store, newest first: sessions,
    views, searches, carts, orders, returns, tickets, messages, identity. A merged id reads its
    survivor's timeline, which includes the entries of every profile merged into it."""
    kinds = timeline.parse_kinds(kind or [])
    with db.read() as session:
        page = timeline.timeline_page(session, customer_id, kinds=kinds, cursor=cursor, limit=limit)
        return TimelinePublic(
            profile_id=page.profile.id,
            resolved_from=customer_id if customer_id != page.profile.id else None,
            data=[_entry(r) for r in page.entries],
            next_cursor=page.next_cursor,
        )
