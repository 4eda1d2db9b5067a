"""/v1 routes for locations: stores, warehouses and relay points."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.locations import service, views
from omnicanal.locations.model import (
    Capability,
    Location,
    LocationKind,
    LocationStatus,
    is_open_at,
)
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["locations"])

Reader = Annotated[Principal, Depends(require("locations:read"))]
Writer = Annotated[Write, Depends(writer("locations:write"))]

HOURS_DOC = (
    'Local opening hours per day: {"mon": [["09:00", "12:00"], ["14:00", "19:00"]]}; '
    "a missing day is closed."
)
OpeningHours = dict[str, list[list[str]]]


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Your own code: capitals, digits, '-'.", examples=["PAR-RIVOLI"])
    name: str = Field(examples=["Paris Rivoli"])
    kind: LocationKind
    latitude: float = Field(examples=[48.8606])
    longitude: float = Field(examples=[2.3376])
    timezone: str = Field(default="Europe/Paris", description="IANA time zone.")
    address_line1: str = ""
    postcode: str = ""
    city: str = ""
    country: str = Field(default="FR", description="ISO 3166-1 alpha-2.")
    territory: str | None = Field(default=None, description="Catchment area or region code.")
    opening_hours: OpeningHours = Field(default_factory=dict, description=HOURS_DOC)
    capabilities: list[Capability] = Field(default_factory=list)
    daily_order_capacity: int | None = Field(
        default=None, description="Orders a day the location can prepare; null: no limit."
    )
    status: LocationStatus = LocationStatus.ACTIVE


class LocationUpdate(BaseModel):
    """Only the fields sent change. The code is immutable."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = None
    name: str | None = None
    kind: LocationKind | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    address_line1: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    territory: str | None = None
    opening_hours: OpeningHours | None = None
    capabilities: list[Capability] | None = None
    daily_order_capacity: int | None = None
    status: LocationStatus | None = None


class LocationPublic(BaseModel):
    id: str
    code: str
    name: str
    kind: LocationKind
    status: LocationStatus
    latitude: float
    longitude: float
    timezone: str
    address_line1: str
    postcode: str
    city: str
    country: str
    territory: str | None
    opening_hours: OpeningHours
    capabilities: list[str]
    daily_order_capacity: int | None
    open_now: bool = Field(description="Open at the time of the response, in its time zone.")
    distance_km: float | None = Field(
        default=None, description="Distance from `near`, when the list was asked with it."
    )
    created_at: datetime
    updated_at: datetime


def _public(view: views.LocationView, now: datetime) -> LocationPublic:
    loc = view.location
    return LocationPublic(
        id=view.id,
        code=loc.code,
        name=loc.name,
        kind=loc.kind,
        status=loc.status,
        latitude=loc.latitude,
        longitude=loc.longitude,
        timezone=loc.timezone,
        address_line1=loc.address_line1,
        postcode=loc.postcode,
        city=loc.city,
        country=loc.country,
        territory=loc.territory,
        opening_hours={d: [list(s) for s in spans] for d, spans in loc.opening_hours.items()},
        capabilities=loc.capabilities,
        daily_order_capacity=loc.daily_order_capacity,
        open_now=is_open_at(loc, now),
        distance_km=view.distance_km,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def _changes(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True, mode="json")


@router.post("/locations", status_code=201, response_model=LocationPublic)
def create_location(body: LocationCreate, write: Writer) -> object:
    """Create a store, warehouse or relay point. 409 when the code is taken."""
    location = Location.parse(**_changes(body) | {"kind": body.kind.value})

    def use_case(uow: UnitOfWork) -> LocationPublic:
        location_id = service.create_location(uow, location=location)
        return _public(views.get_location(uow.session, location_id), uow.now())

    return write.run(use_case, status_code=201)


@router.get("/locations", response_model=Page[LocationPublic])
def list_locations(
    db: DbDep,
    _: Reader,
    kind: str | None = None,
    capability: str | None = None,
    city: str | None = None,
    status: str | None = None,
    q: Annotated[str | None, Query(description="Text in the name, code, city or postcode.")] = None,
    near: Annotated[
        str | None,
        Query(description="latitude,longitude: sorts by distance and adds distance_km."),
    ] = None,
    radius_km: Annotated[float | None, Query(description="With near; default 50.")] = None,
    cursor: str | None = None,
    limit: int = 50,
) -> object:
    with db.read() as session:
        listing = views.list_locations(
            session,
            kind=kind,
            capability=capability,
            city=city,
            status=status,
            q=q,
            near=near,
            radius_km=radius_km,
            cursor=cursor,
            limit=limit,
        )
    now = db.clock.now()
    return Page[LocationPublic](
        data=[_public(v, now) for v in listing.items], next_cursor=listing.next_cursor
    )


@router.get("/locations/{location_id}", response_model=LocationPublic)
def get_location(location_id: str, db: DbDep, _: Reader) -> object:
    with db.read() as session:
        return _public(views.get_location(session, location_id), db.clock.now())


@router.patch("/locations/{location_id}", response_model=LocationPublic)
def update_location(location_id: str, body: LocationUpdate, write: Writer) -> object:
    changes = _changes(body)

    def use_case(uow: UnitOfWork) -> LocationPublic:
        service.update_location(uow, location_id, changes=changes)
        return _public(views.get_location(uow.session, location_id), uow.now())

    return write.run(use_case)
