"""/v1 stock, availability, reservations and transfers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select

from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.inventory import service, transfers, views
from omnicanal.inventory.service import Line, Reference
from omnicanal.inventory.tables import (
    ReservationRow,
    StockLevelRow,
    StockMovementRow,
    TransferRow,
)
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.paging import keyset_page
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["inventory"])

ReadKey = Annotated[Principal, Depends(require("inventory:read"))]
ReserveWrite = Annotated[Write, Depends(writer("inventory:reserve"))]
StockWrite = Annotated[Write, Depends(writer("inventory:write"))]
Quantity = Annotated[StrictInt, Field(gt=0, description="A positive whole number of units.")]


class LineIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64, examples=["RUN-00000-BLA-42"])
    quantity: Quantity


class ReservationCreate(BaseModel):
    owner_type: Literal["cart", "order", "try_in_store"]
    owner_id: str = Field(min_length=1, max_length=64, examples=["crt_01J…"])
    location_id: str
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    ttl_minutes: Annotated[StrictInt, Field(gt=0)] | None = Field(
        default=None, description="Hold duration; default 30 min for carts, 48 h try-in-store."
    )


class ReservationPublic(BaseModel):
    id: str
    owner_type: str
    owner_id: str
    sku: str
    location_id: str
    quantity: int
    status: str
    channel: str | None
    expires_at: datetime | None
    created_at: datetime
    closed_at: datetime | None


class ReservationsCreated(BaseModel):
    reservations: list[ReservationPublic]


class LevelPublic(BaseModel):
    sku: str
    location_id: str
    location_code: str | None = None
    location_name: str | None = None
    location_kind: str | None = None
    on_hand: int
    reserved: int
    committed: int
    damaged: int
    safety_stock: int
    incoming: int
    low_stock_threshold: int | None
    sellable_on_shelf: int = Field(description="on_hand - reserved - committed - damaged")
    available_to_promise: int = Field(description="sellable_on_shelf - safety_stock, ≥ 0")
    updated_at: datetime


class SkuStock(BaseModel):
    sku: str
    total_available_to_promise: int
    locations: list[LevelPublic]


class StockLinesIn(BaseModel):
    location_id: str
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    reason: str | None = Field(default=None, max_length=300)
    reference_type: str | None = Field(default=None, max_length=30, examples=["ticket"])
    reference_id: str | None = Field(default=None, max_length=64)


class ReturnIn(StockLinesIn):
    sellable: bool = Field(default=True, description="False keeps the units aside as damaged.")


class AdjustmentIn(BaseModel):
    location_id: str
    sku: str
    counted: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None, description="A stock take: the quantity counted on the shelf."
    )
    delta: StrictInt | None = Field(default=None, description="A signed correction.")
    reason: str = Field(min_length=1, max_length=300, examples=["cycle count"])


class LevelSettingsIn(BaseModel):
    safety_stock: Annotated[StrictInt, Field(ge=0)] | None = None
    low_stock_threshold: Annotated[StrictInt, Field(ge=0)] | None = None


class LevelsOut(BaseModel):
    levels: list[LevelPublic]


class MovementPublic(BaseModel):
    seq: int
    id: str
    sku: str
    location_id: str
    kind: str
    d_on_hand: int
    d_reserved: int
    d_committed: int
    d_damaged: int
    d_incoming: int
    reason: str | None
    reference_type: str | None
    reference_id: str | None
    reservation_id: str | None
    actor: str | None
    occurred_at: datetime


class PlaceOut(BaseModel):
    id: str
    code: str
    name: str
    kind: str
    city: str


class LineAvailabilityOut(BaseModel):
    sku: str
    requested: int
    available: int


class PlaceAvailabilityOut(BaseModel):
    location: PlaceOut
    distance_km: float | None
    can_supply_all: bool
    lines: list[LineAvailabilityOut]


class AvailabilityOut(BaseModel):
    channel: str | None
    data: list[PlaceAvailabilityOut]


class BasketAvailabilityIn(BaseModel):
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float = Field(default=25, gt=0, le=1000)
    location_ids: list[str] | None = Field(default=None, max_length=500)
    capability: str | None = None
    include_partial: bool = True


class TransferCreate(BaseModel):
    from_location_id: str
    to_location_id: str
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    reason: str | None = Field(default=None, max_length=300)


class TransferReceiveIn(BaseModel):
    received: dict[str, Annotated[StrictInt, Field(ge=0)]] | None = Field(
        default=None, description="Per-SKU counts when fewer units arrived than were shipped."
    )


class TransferLineOut(BaseModel):
    sku: str
    quantity: int
    received_quantity: int | None


class TransferPublic(BaseModel):
    id: str
    from_location_id: str
    to_location_id: str
    status: str
    reason: str | None
    created_at: datetime
    shipped_at: datetime | None
    received_at: datetime | None
    lines: list[TransferLineOut]


def _lines(lines: list[LineIn]) -> list[Line]:
    return [Line(line.sku, line.quantity) for line in lines]


def _reservation(row: ReservationRow) -> ReservationPublic:
    return ReservationPublic.model_validate(row, from_attributes=True)


def _level(row: Any) -> LevelPublic:
    return LevelPublic(**views.level_public(row))


def _transfer(uow: UnitOfWork, row: TransferRow) -> TransferPublic:
    lines = [
        TransferLineOut(
            sku=line.sku, quantity=line.quantity, received_quantity=line.received_quantity
        )
        for line in transfers.transfer_lines(uow, row.id)
    ]
    return TransferPublic(
        id=row.id,
        from_location_id=row.from_location_id,
        to_location_id=row.to_location_id,
        status=row.status,
        reason=row.reason,
        created_at=row.created_at,
        shipped_at=row.shipped_at,
        received_at=row.received_at,
        lines=lines,
    )


def _availability(found: list[views.PlaceAvailability]) -> list[PlaceAvailabilityOut]:
    return [
        PlaceAvailabilityOut(
            location=PlaceOut(
                id=a.place.id,
                code=a.place.code,
                name=a.place.name,
                kind=a.place.kind,
                city=a.place.city,
            ),
            distance_km=a.distance_km,
            can_supply_all=a.can_supply_all,
            lines=[
                LineAvailabilityOut(sku=x.sku, requested=x.requested, available=x.available)
                for x in a.lines
            ],
        )
        for a in found
    ]


# -- reads ------------------------------------------------------------------------------------
@router.get("/stock/{sku}", response_model=SkuStock, summary="Stock of a SKU at every location")
def stock_of_sku(sku: str, db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        service.require_skus(session, [sku])
        pairs = views.level_rows_for_sku(session, sku)
    levels = [
        LevelPublic(
            **views.level_public(level),
            location_code=loc.code,
            location_name=loc.name,
            location_kind=loc.kind,
        )
        for level, loc in pairs
    ]
    return SkuStock(
        sku=sku,
        total_available_to_promise=sum(level.available_to_promise for level in levels),
        locations=levels,
    )


@router.get("/locations/{location_id}/stock", response_model=Page[LevelPublic])
def stock_at_location(
    location_id: str,
    db: DbDep,
    _: ReadKey,
    sku: Annotated[str | None, Query(description="SKU prefix.")] = None,
    in_stock: bool = False,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    with db.read() as session:
        service.require_location(session, location_id)
        stmt = select(StockLevelRow).where(StockLevelRow.location_id == location_id)
        if sku:
            stmt = stmt.where(StockLevelRow.sku.startswith(sku, autoescape=True))
        if in_stock:
            stmt = stmt.where(StockLevelRow.on_hand > 0)
        rows, next_cursor = keyset_page(
            session, stmt, order_by=[StockLevelRow.sku], cursor=cursor, limit=limit
        )
        return Page[LevelPublic](data=[_level(r) for r in rows], next_cursor=next_cursor)


@router.get("/stock-movements", response_model=Page[MovementPublic], summary="The ledger")
def stock_movements(
    db: DbDep,
    _: ReadKey,
    sku: str | None = None,
    location_id: str | None = None,
    kind: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    stmt = select(StockMovementRow)
    if sku:
        stmt = stmt.where(StockMovementRow.sku == sku)
    if location_id:
        stmt = stmt.where(StockMovementRow.location_id == location_id)
    if kind:
        stmt = stmt.where(StockMovementRow.kind == kind)
    with db.read() as session:
        rows, next_cursor = keyset_page(
            session, stmt, order_by=[StockMovementRow.seq], cursor=cursor, limit=limit
        )
        data = [MovementPublic.model_validate(r, from_attributes=True) for r in rows]
        return Page[MovementPublic](data=data, next_cursor=next_cursor)


@router.get(
    "/availability",
    response_model=AvailabilityOut,
    summary="Where can I get it near me?",
)
def availability(
    db: DbDep,
    principal: ReadKey,
    sku: str,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    radius_km: Annotated[float, Query(gt=0, le=1000)] = 25,
    quantity: Annotated[int, Query(gt=0)] = 1,
    capability: Annotated[
        str | None, Query(description="e.g. pickup, ship_from_store, reserve_and_try")
    ] = None,
    channel: Annotated[str | None, Query(description="Defaults to the key's channel.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> object:
    """Stores and warehouses within ``radius_km`` that can supply ``quantity`` of the SKU now,
    nearest first, with what the channel may promise at each."""
    chosen = channel or principal.channel.value
    places = views.directory(db).places()
    with db.read() as session:
        service.require_skus(session, [sku])
        found = views.availability_near(
            session,
            places,
            lat=lat,
            lon=lon,
            radius_km=radius_km,
            lines=[(sku, quantity)],
            channel=chosen,
            capability=capability,
            limit=limit,
        )
    return AvailabilityOut(channel=chosen, data=_availability(found))


@router.post("/availability/basket", response_model=AvailabilityOut)
def basket_availability(body: BasketAvailabilityIn, db: DbDep, principal: ReadKey) -> object:
    """Availability of a whole basket per location: near a point, or at given locations."""
    channel = principal.channel.value
    lines = [(line.sku, line.quantity) for line in body.lines]
    places = views.directory(db).places()
    with db.read() as session:
        service.require_skus(session, [sku for sku, _ in lines])
        if body.location_ids is not None:
            by_id = {p.id: p for p in places}
            unknown = [i for i in body.location_ids if i not in by_id]
            if unknown:
                raise NotFound(f"No active location {unknown[0]!r}.", field="location_ids")
            found = views.basket_availability(
                session,
                [by_id[i] for i in body.location_ids],
                lines,
                channel=channel,
                own_store_id=principal.store_id,
            )
        elif body.lat is not None and body.lon is not None:
            found = views.availability_near(
                session,
                places,
                lat=body.lat,
                lon=body.lon,
                radius_km=body.radius_km,
                lines=lines,
                channel=channel,
                capability=body.capability,
                include_partial=body.include_partial,
            )
        else:
            raise InvalidInput("Give lat and lon, or location_ids.", field="location_ids")
    return AvailabilityOut(channel=channel, data=_availability(found))


# -- reservations -----------------------------------------------------------------------------
@router.post("/reservations", status_code=201, response_model=ReservationsCreated)
def create_reservation(body: ReservationCreate, write: ReserveWrite) -> object:
    """Hold units at one location for a cart, an order or a try-in-store visit: every line or
    none. A 409 ``insufficient-stock`` problem says how many are available."""
    check_store(write.principal, body.location_id)

    def use_case(uow: UnitOfWork) -> ReservationsCreated:
        rows = service.reserve(
            uow,
            owner_type=body.owner_type,
            owner_id=body.owner_id,
            location_id=body.location_id,
            lines=_lines(body.lines),
            ttl_minutes=body.ttl_minutes,
            channel=write.principal.channel.value,
            actor=write.principal.key_id,
        )
        return ReservationsCreated(reservations=[_reservation(r) for r in rows])

    return write.run(use_case, status_code=201)


@router.get("/reservations/{reservation_id}", response_model=ReservationPublic)
def get_reservation(reservation_id: str, db: DbDep, _: ReadKey) -> object:
    with db.read() as session:
        row = session.get(ReservationRow, reservation_id)
        if row is None:
            raise NotFound(f"No reservation {reservation_id!r}.", field="reservation_id")
        return _reservation(row)


def _close_reservation(reservation_id: str, write: Write, action: str) -> object:
    def use_case(uow: UnitOfWork) -> ReservationPublic:
        row = uow.session.get(ReservationRow, reservation_id)
        if row is not None:
            check_store(write.principal, row.location_id)
        close = service.release if action == "release" else service.fulfil
        return _reservation(close(uow, reservation_id, actor=write.principal.key_id))

    return write.run(use_case)


@router.post("/reservations/{reservation_id}/release", response_model=ReservationPublic)
def release_reservation(reservation_id: str, write: ReserveWrite) -> object:
    """Give the held units back to sale."""
    return _close_reservation(reservation_id, write, "release")


@router.post("/reservations/{reservation_id}/fulfil", response_model=ReservationPublic)
def fulfil_reservation(reservation_id: str, write: ReserveWrite) -> object:
    """The held units leave (shipped or handed over): a sale. 410 if the hold expired."""
    return _close_reservation(reservation_id, write, "fulfil")


# -- physical stock ---------------------------------------------------------------------------
def _stock_lines(body: StockLinesIn, write: Write, operation: Any, **extra: Any) -> object:
    check_store(write.principal, body.location_id)

    def use_case(uow: UnitOfWork) -> LevelsOut:
        rows = operation(
            uow,
            location_id=body.location_id,
            lines=_lines(body.lines),
            ref=Reference(body.reference_type, body.reference_id, body.reason),
            actor=write.principal.key_id,
            **extra,
        )
        return LevelsOut(levels=[_level(r) for r in rows])

    return write.run(use_case)


@router.post("/stock/receipts", response_model=LevelsOut)
def receive_stock(body: StockLinesIn, write: StockWrite) -> object:
    """Goods received at a location."""
    return _stock_lines(body, write, service.receive)


@router.post("/stock/sales", response_model=LevelsOut)
def till_sale(body: StockLinesIn, write: StockWrite) -> object:
    """A till sale off the shelf (all lines or none)."""
    return _stock_lines(body, write, service.sell_at_till)


@router.post("/stock/damages", response_model=LevelsOut)
def mark_damaged(body: StockLinesIn, write: StockWrite) -> object:
    return _stock_lines(body, write, service.mark_damaged)


@router.post("/stock/write-offs", response_model=LevelsOut)
def write_off(body: StockLinesIn, write: StockWrite) -> object:
    """Damaged units thrown away."""
    return _stock_lines(body, write, service.write_off)


@router.post("/stock/returns", response_model=LevelsOut)
def take_return(body: ReturnIn, write: StockWrite) -> object:
    """Units brought back to this location (sellable, or aside as damaged)."""
    return _stock_lines(body, write, service.take_return, sellable=body.sellable)


@router.post("/stock/adjustments", response_model=LevelPublic)
def adjust_stock(body: AdjustmentIn, write: StockWrite) -> object:
    """A stock take (``counted``) or a signed correction (``delta``)."""
    check_store(write.principal, body.location_id)

    def use_case(uow: UnitOfWork) -> LevelPublic:
        row = service.adjust(
            uow,
            location_id=body.location_id,
            sku=body.sku,
            counted=body.counted,
            delta=body.delta,
            ref=Reference("adjustment", None, body.reason),
            actor=write.principal.key_id,
        )
        return _level(row)

    return write.run(use_case)


@router.put("/stock/{sku}/{location_id}/settings", response_model=LevelPublic)
def level_settings(sku: str, location_id: str, body: LevelSettingsIn, write: StockWrite) -> object:
    """Safety stock and low-stock threshold of one SKU at one location."""
    check_store(write.principal, location_id)

    def use_case(uow: UnitOfWork) -> LevelPublic:
        row = service.set_level_settings(
            uow,
            location_id=location_id,
            sku=sku,
            safety_stock=body.safety_stock,
            low_stock_threshold=body.low_stock_threshold,
        )
        return _level(row)

    return write.run(use_case)


# -- transfers --------------------------------------------------------------------------------
@router.post("/transfers", status_code=201, response_model=TransferPublic)
def create_transfer(body: TransferCreate, write: StockWrite) -> object:
    check_store(write.principal, body.from_location_id)

    def use_case(uow: UnitOfWork) -> TransferPublic:
        row = transfers.create_transfer(
            uow,
            from_location_id=body.from_location_id,
            to_location_id=body.to_location_id,
            lines=_lines(body.lines),
            reason=body.reason,
        )
        return _transfer(uow, row)

    return write.run(use_case, status_code=201)


@router.get("/transfers/{transfer_id}", response_model=TransferPublic)
def get_transfer(transfer_id: str, db: DbDep, _: ReadKey) -> object:
    with db.uow() as uow:
        row = uow.session.get(TransferRow, transfer_id)
        if row is None:
            raise NotFound(f"No transfer {transfer_id!r}.", field="transfer_id")
        return _transfer(uow, row)


def _transfer_action(transfer_id: str, write: Write, action: str, body: Any = None) -> object:
    def use_case(uow: UnitOfWork) -> TransferPublic:
        row = uow.session.get(TransferRow, transfer_id)
        if row is not None:
            check_store(
                write.principal, row.to_location_id if action == "receive" else row.from_location_id
            )
        if action == "ship":
            row = transfers.ship_transfer(uow, transfer_id, actor=write.principal.key_id)
        elif action == "receive":
            row = transfers.receive_transfer(
                uow,
                transfer_id,
                received=body.received if body else None,
                actor=write.principal.key_id,
            )
        else:
            row = transfers.cancel_transfer(uow, transfer_id)
        return _transfer(uow, row)

    return write.run(use_case)


@router.post("/transfers/{transfer_id}/ship", response_model=TransferPublic)
def ship_transfer(transfer_id: str, write: StockWrite) -> object:
    return _transfer_action(transfer_id, write, "ship")


@router.post("/transfers/{transfer_id}/receive", response_model=TransferPublic)
def receive_transfer(
    transfer_id: str, write: StockWrite, body: TransferReceiveIn | None = None
) -> object:
    return _transfer_action(transfer_id, write, "receive", body)


@router.post("/transfers/{transfer_id}/cancel", response_model=TransferPublic)
def cancel_transfer(transfer_id: str, write: StockWrite) -> object:
    return _transfer_action(transfer_id, write, "cancel")
