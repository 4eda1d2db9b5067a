"""After an order: the store prepares pickups and the customer comes (or not), parcels ship
and arrive, some items come back to a store (refund or exchange), some customers call."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import select

from omnicanal.orders import fulfilment
from omnicanal.orders.model import Method
from omnicanal.orders.tables import FulfilmentGroupRow, OrderLineRow
from omnicanal.returns import service as returns
from omnicanal.service_desk import service as desk
from omnicanal.service_desk.model import TicketChannel, TicketStatus
from omnicanal.simulation.context import Context
from omnicanal.simulation.model import (
    CLICK_COLLECT_RETURN_RATE,
    CSAT_ANSWER_RATE,
    EXCHANGE_SHARE,
    NO_SHOW_RATE,
    RETURN_RATE,
    TICKET_AFTER_NO_SHOW,
    TICKET_RATE,
    TRY_OUTCOMES,
    Persona,
    csat_score,
    hours,
    weighted,
)
from omnicanal.storage.uow import UnitOfWork

if TYPE_CHECKING:
    from omnicanal.simulation.journeys import Placed

NO_SHOW_AFTER = timedelta(hours=72)  # the routing default; the sweeper decides, not us
TRY_HOLD = timedelta(hours=48)
SWEEP_MARGIN = timedelta(minutes=20)


def follow(ctx: Context, person: Persona, rng: random.Random, placed: Placed) -> None:
    """Plan what happens to each fulfilment group of a new order."""
    placed_at = datetime.fromisoformat(placed.placed_at_iso)
    for group_id, method, _location, status in placed.groups:
        if status == "backordered":
            ctx.tally["backordered group"] += 1
            continue
        if Method(method).is_pickup:
            prepare_at = ctx.in_store_hours(ctx.later(hours(rng, 1.5, 0.8, cap=20)))
            ctx.schedule(
                prepare_at,
                partial(_prepare, ctx, person, rng, placed, group_id, method, placed_at),
            )
        else:
            ship_at = ctx.later(hours(rng, 8, 0.7, cap=40))
            ctx.schedule(ship_at, partial(_ship, ctx, person, rng, placed, group_id, method))
    if rng.random() < TICKET_RATE:
        ctx.schedule(
            ctx.later(hours(rng, 20, 0.8, cap=96)),
            lambda: _ticket(ctx, person, rng, placed.order_id, "Where is my order?"),
        )


# -- pickups --------------------------------------------------------------------------------------
def _prepare(
    ctx: Context,
    person: Persona,
    rng: random.Random,
    placed: Placed,
    group_id: str,
    method: str,
    placed_at: datetime,
) -> None:
    def ready(uow: UnitOfWork) -> str:
        fulfilment.start_picking(uow, group_id)
        fulfilment.mark_ready(uow, group_id)
        return group_id

    if ctx.attempt("pickup ready", ready) is None:
        return
    if method == Method.RESERVE_AND_TRY.value:
        _try_on(ctx, person, rng, placed, group_id, placed_at)
        return
    if rng.random() < NO_SHOW_RATE:
        # never comes: the no-show sweeper releases the units at the deadline
        ctx.schedule(ctx.later(NO_SHOW_AFTER + SWEEP_MARGIN), _nothing, deadline=True)
        if rng.random() < TICKET_AFTER_NO_SHOW:
            ctx.schedule(
                ctx.later(NO_SHOW_AFTER + timedelta(hours=rng.uniform(2, 30))),
                lambda: _ticket(ctx, person, rng, placed.order_id, "My order was cancelled"),
            )
        return
    come = ctx.in_store_hours(ctx.later(hours(rng, 18, 0.9, cap=60)))
    ctx.schedule(come, lambda: _collect(ctx, person, rng, placed, group_id))


def _nothing() -> None:
    """A deadline on the agenda: the run goes on until the sweepers have passed it."""


def _try_on(
    ctx: Context,
    person: Persona,
    rng: random.Random,
    placed: Placed,
    group_id: str,
    placed_at: datetime,
) -> None:
    outcome = weighted(rng, TRY_OUTCOMES)
    come = ctx.in_store_hours(ctx.later(hours(rng, 20, 0.6, cap=40)))
    if not ctx.live and come >= placed_at + TRY_HOLD - timedelta(hours=1):
        outcome = "no_show"  # the hold runs out before they can come
    if outcome == "no_show":
        ctx.schedule(placed_at + TRY_HOLD * ctx.time_scale + SWEEP_MARGIN, _nothing, deadline=True)
        return
    if outcome == "declined":
        ctx.schedule(
            come,
            lambda: ctx.attempt("try-on declined", lambda uow: fulfilment.decline(uow, group_id)),
        )
        return
    ctx.schedule(come, lambda: _collect(ctx, person, rng, placed, group_id))


def _collect(
    ctx: Context, person: Persona, rng: random.Random, placed: Placed, group_id: str
) -> None:
    def hand_over(uow: UnitOfWork) -> str:
        group = uow.session.get(FulfilmentGroupRow, group_id)
        assert group is not None
        assert group.pickup_code is not None
        fulfilment.hand_over(uow, group_id, pickup_code=group.pickup_code)
        return group_id

    if ctx.attempt("pickup handed over", hand_over) is not None:
        rate = CLICK_COLLECT_RETURN_RATE
        _maybe_return(ctx, person, rng, placed, rate)


# -- parcels --------------------------------------------------------------------------------------
def _ship(
    ctx: Context, person: Persona, rng: random.Random, placed: Placed, group_id: str, method: str
) -> None:
    tracking = f"SIM{rng.getrandbits(40):012d}"

    def ship(uow: UnitOfWork) -> str:
        fulfilment.ship(uow, group_id, carrier="Colissimo", tracking_number=tracking)
        return group_id

    if ctx.attempt("parcel shipped", ship) is None:
        return
    median = 50 if method == Method.RELAY_POINT.value else 30
    ctx.schedule(
        ctx.later(hours(rng, median, 0.4, cap=120)),
        lambda: _deliver(ctx, person, rng, placed, group_id),
    )


def _deliver(
    ctx: Context, person: Persona, rng: random.Random, placed: Placed, group_id: str
) -> None:
    if ctx.attempt("parcel delivered", lambda uow: fulfilment.deliver(uow, group_id)) is not None:
        _maybe_return(ctx, person, rng, placed, RETURN_RATE.get(placed.channel, 0.1))


# -- returns in store -----------------------------------------------------------------------------
def _maybe_return(
    ctx: Context, person: Persona, rng: random.Random, placed: Placed, rate: float
) -> None:
    if rng.random() >= rate:
        return
    when = ctx.in_store_hours(ctx.later(hours(rng, 60, 0.7, cap=240)))
    ctx.schedule(when, lambda: _return_in_store(ctx, person, rng, placed))


def _returnable_line(uow: UnitOfWork, order_id: str) -> tuple[str, str] | None:
    row = uow.session.execute(
        select(OrderLineRow.id, OrderLineRow.sku)
        .join(FulfilmentGroupRow, FulfilmentGroupRow.id == OrderLineRow.group_id)
        .where(
            OrderLineRow.order_id == order_id,
            OrderLineRow.quantity > OrderLineRow.quantity_cancelled,
            FulfilmentGroupRow.status.in_(("collected", "delivered")),
        )
        .order_by(OrderLineRow.sku)
    ).first()
    return (row[0], row[1]) if row else None


def _return_in_store(ctx: Context, person: Persona, rng: random.Random, placed: Placed) -> None:
    """The customer brings one item back to their store: another size, or their money."""
    store = ctx.home_store(person)
    exchange = rng.random() < EXCHANGE_SHARE
    reason = weighted(rng, {"changed_mind": 0.5, "not_as_described": 0.3, "damaged": 0.2})
    opened = rng.random() < 0.15

    def take_back(uow: UnitOfWork) -> tuple[str, str] | None:
        found = _returnable_line(uow, placed.order_id)
        if found is None:
            return None
        line_id, sku = found
        product = ctx.world.by_sku[sku].product_id if sku in ctx.world.by_sku else None
        shelf = set(ctx.world.shelves.get(store.id, []))
        others = [s for s in ctx.world.siblings.get(product or "", []) if s != sku and s in shelf]
        swap = others[rng.randrange(len(others))] if exchange and others else None
        why = rng.choice(("too_small", "too_large")) if swap else reason
        condition = "damaged" if why == "damaged" else ("opened" if opened else "sellable")
        row = returns.request_return(
            uow,
            returns.ReturnRequest(
                order_id=placed.order_id,
                location_id=store.id,
                lines=[
                    returns.ReturnLineRequest(
                        quantity=1, reason=why, condition=condition, order_line_id=line_id
                    )
                ],
                outcome="exchange" if swap else "refund",
                channel="pos",
                exchange_lines=[returns.ExchangeLine(swap, 1)] if swap else (),
                actor="associate",
                csat_score=csat_score(rng) if rng.random() < 0.3 else None,
            ),
        )
        return row.id, row.status

    done = ctx.attempt("return in store", take_back)
    if done is not None and done[1] == "in_review":
        ctx.schedule(
            ctx.later(hours(rng, 8, 0.6, cap=48)),
            lambda: ctx.attempt(
                "return approved",
                lambda uow: returns.approve(uow, done[0], reviewer="head office"),
            ),
        )


# -- customer service -----------------------------------------------------------------------------
def _ticket(ctx: Context, person: Persona, rng: random.Random, order_id: str, subject: str) -> None:
    if person.profile_id is None:
        return
    profile_id = person.profile_id
    by_phone = person.phone is not None and rng.random() < 0.6

    def open_ticket(uow: UnitOfWork) -> str:
        row = desk.open_ticket(
            uow,
            subject=subject,
            channel=TicketChannel.PHONE if by_phone else TicketChannel.EMAIL,
            source_channel="callcenter",
            customer_id=profile_id,
            order_id=order_id,
        )
        return row.id

    ticket_id = ctx.attempt("ticket opened", open_ticket)
    if ticket_id is None:
        return
    ctx.schedule(
        ctx.later(hours(rng, 6, 1.0, cap=72)),
        lambda: _resolve(ctx, rng, ticket_id),
    )


def _resolve(ctx: Context, rng: random.Random, ticket_id: str) -> None:
    def resolve(uow: UnitOfWork) -> str:
        desk.change_status(
            uow, ticket_id, status=TicketStatus.RESOLVED, source_channel="callcenter"
        )
        return ticket_id

    if ctx.attempt("ticket resolved", resolve) is None or rng.random() >= CSAT_ANSWER_RATE:
        return
    score = csat_score(rng)
    ctx.schedule(
        ctx.later(hours(rng, 4, 0.8, cap=48)),
        lambda: ctx.attempt(
            "csat answered",
            lambda uow: desk.record_csat(uow, ticket_id, score=score, source_channel="email"),
        ),
    )
