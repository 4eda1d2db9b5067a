"""A customer's visit, through the same use cases the API calls: a web or app session whose
cart may cross devices, a call to the call centre, a marketplace order, a store visit (a till
sale, identified or anonymous, or an endless-aisle order; the associate may add to their web
cart). What happens after an order (preparing, pickup, shipping, returns, tickets) is in
``aftercare``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from omnicanal.carts import service as carts
from omnicanal.carts.service import Actor
from omnicanal.carts.tables import CartLineRow
from omnicanal.customers.model import Identifier, normalise_identifier
from omnicanal.customers.service import identify
from omnicanal.customers.timeline import ActivityInput, TimelineKind, record_activities
from omnicanal.inventory import service as inventory
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.locations.tables import LocationRow
from omnicanal.loyalty import service as loyalty
from omnicanal.loyalty.model import EarnLine, RefType
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.orders.pricing import price_skus
from omnicanal.orders.tables import FulfilmentGroupRow
from omnicanal.recommendations import service as recommendations
from omnicanal.shared.money import Money
from omnicanal.simulation import aftercare
from omnicanal.simulation.context import Context
from omnicanal.simulation.model import (
    ABANDON_SHARE,
    ASSOCIATE_ADDS_SHARE,
    CROSS_DEVICE_SHARE,
    Persona,
    basket_size,
    hours,
)
from omnicanal.simulation.world import Place
from omnicanal.storage.uow import UnitOfWork

CURRENCY = "EUR"


def visit(ctx: Context, person: Persona, rng: random.Random, channel: str, method: str) -> None:
    """One shopping visit of ``person`` on ``channel``, meant to end in ``method``."""
    if channel in ("web", "app"):
        _start_session(ctx, person, rng, channel, method)
    elif channel == "callcenter":
        _phone_order(ctx, person, rng, method)
    elif channel == "marketplace":
        _marketplace_order(ctx, person, rng, method)
    elif method == "endless_aisle":
        _endless_aisle(ctx, person, rng)
    else:
        _till_sale(ctx, person, rng)


# -- identification -----------------------------------------------------------------------------
def _ids(*pairs: tuple[str, str | None]) -> list[Identifier]:
    return sorted({normalise_identifier(kind, value) for kind, value in pairs if value})


def _device(person: Persona, channel: str) -> tuple[str, str]:
    """The web's first-party cookie, or the app's device id (an app user has a device)."""
    if channel == "web":
        return ("cookie", person.cookies[0])
    if not person.devices:
        person.devices.append(f"dv-{person.index:06d}-{person.email[:4]}-app")
    return ("device_id", person.devices[0])


def _identify(
    uow: UnitOfWork, person: Persona, channel: str, *pairs: tuple[str, str | None]
) -> str:
    found = identify(
        uow,
        identifiers=_ids(*pairs),
        channel=channel,
        attributes={
            "given_name": person.given_name,
            "family_name": person.family_name,
            "postal_code": person.home.postcode,
            "city": person.home.city,
        },
    )
    return found.profile_id  # the caller keeps it once the unit of work committed


def _contact(person: Persona) -> dict[str, object]:
    contact: dict[str, object] = {"email": person.email, "name": person.name}
    if person.phone:
        contact["phone"] = person.phone
    return contact


# -- orders ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    order_id: str
    channel: str
    groups: list[tuple[str, str, str | None, str]]  # (group id, method, location id, status)
    placed_at_iso: str


def _placed(uow: UnitOfWork, order_id: str, channel: str) -> Placed:
    rows = uow.session.execute(
        select(
            FulfilmentGroupRow.id,
            FulfilmentGroupRow.method,
            FulfilmentGroupRow.location_id,
            FulfilmentGroupRow.status,
        )
        .outerjoin(LocationRow, LocationRow.id == FulfilmentGroupRow.location_id)
        .where(FulfilmentGroupRow.order_id == order_id)
        .order_by(FulfilmentGroupRow.method, LocationRow.code)  # codes: stable from run to run
    ).all()
    groups = [(str(g), str(m), loc, str(s)) for g, m, loc, s in rows]
    return Placed(order_id, channel, groups, uow.now().isoformat())


def _group(
    method: str, lines: list[orders.LineRequest], where: Place | None
) -> orders.GroupRequest:
    m = Method(method)
    return orders.GroupRequest(
        method=m,
        lines=lines,
        location_id=where.id if where is not None and m.is_pickup else None,
        relay_point_id=where.id if where is not None and m is Method.RELAY_POINT else None,
    )


def _payment(rng: random.Random, method: str) -> orders.PaymentRequest | None:
    if method == Method.RESERVE_AND_TRY.value:
        return None  # paid at the till, or not at all
    return orders.PaymentRequest("authorised", "simpay", f"psp_{rng.getrandbits(40):010x}")


def _where(ctx: Context, person: Persona, method: str) -> list[Place | None]:
    """The places to try, in order: nearby stores for pickups, the nearest relay point."""
    if method == "click_and_collect":
        return list(ctx.stores_near(person, "pickup"))
    if method == "reserve_and_try":
        return list(ctx.stores_near(person, "reserve_and_try"))
    if method == "relay_point":
        relay = ctx.relay_near(person)
        return [relay] if relay is not None else []
    return [None]


def _pickup_store(ctx: Context, person: Persona, method: str) -> Place | None:
    """A pickup's first choice: the nearest able store (the basket is what it has)."""
    if not Method(method).is_pickup:
        return None
    stores = _where(ctx, person, method)
    return stores[0] if stores else None


def _order(
    ctx: Context,
    person: Persona,
    rng: random.Random,
    *,
    channel: str,
    method: str,
    skus: list[str],
    cart_id: str | None = None,
    store: Place | None = None,
    external_ref: str | None = None,
) -> Placed | None:
    """Place the order at the first place that can serve it, else (the customer accepts) for
    home delivery; None when nothing could serve it."""
    tries = [(method, where) for where in _where(ctx, person, method)]
    if method != "home_delivery" and channel != "pos":
        tries.append(("home_delivery", None))
    for chosen, where in tries:

        def use_case(uow: UnitOfWork, chosen: str = chosen, where: Place | None = where) -> Placed:
            if cart_id is not None and chosen == "click_and_collect" and where is not None:
                carts.choose_pickup(
                    uow,
                    cart_id,
                    location_id=where.id,
                    actor=Actor(channel),
                    customer_id=person.profile_id,
                )
            lines = [] if cart_id else [orders.LineRequest(sku, 1) for sku in skus]
            placed = orders.place_order(
                uow,
                orders.OrderRequest(
                    channel=channel,
                    currency=CURRENCY,
                    groups=[_group(chosen, lines, where)],
                    store_id=store.id if store is not None else None,
                    customer_id=person.profile_id,
                    contact=_contact(person),
                    shipping_address=person.address(),
                    external_ref=external_ref,
                    cart_id=cart_id,
                    payment=_payment(rng, chosen),
                    locale="fr",
                    actor="simulation",
                ),
            )
            return _placed(uow, placed.order.id, channel)

        done = ctx.attempt(f"order {channel} {chosen}", use_case)
        if done is not None:
            aftercare.follow(ctx, person, rng, done)
            return done
    ctx.tally[f"lost sale {channel}"] += 1
    return None


# -- web and app: a cart that follows the customer ------------------------------------------------
def _start_session(
    ctx: Context, person: Persona, rng: random.Random, channel: str, method: str
) -> None:
    other = "app" if channel == "web" else "web"
    start = other if rng.random() < CROSS_DEVICE_SHARE else channel
    pickup = _pickup_store(ctx, person, method)
    count = basket_size(rng)
    skus = (
        ctx.shelf_skus(rng, pickup, count, online=True)
        if pickup is not None
        else ctx.online_skus(rng, count)
    )
    if not skus:
        return
    token = f"sim-{ctx.tag}-{person.index}-{rng.getrandbits(48):012x}"

    def browse(uow: UnitOfWork) -> str:
        cart = carts.open_cart(uow, actor=Actor(start), anonymous_token=token).cart
        for sku in skus:
            carts.add_line(uow, cart.id, sku=sku, quantity=1, actor=Actor(start))
        return cart.id

    cart_id = ctx.attempt(f"cart session {start}", browse)
    if cart_id is None:
        return
    ctx.schedule(
        ctx.later(timedelta(minutes=rng.uniform(2, 15))),
        lambda: _sign_in(ctx, person, rng, _Session(cart_id, token, skus), start, channel, method),
    )


@dataclass(frozen=True)
class _Session:
    cart_id: str
    token: str  # the session's first-party id, the anonymous cart's token
    skus: list[str]  # the product pages seen, then put in the cart


def _browsing(uow: UnitOfWork, profile: str, channel: str, session: str, skus: list[str]) -> None:
    """What the site or app reports on the profile once it knows who browses: the session
    and the product pages seen (the timeline and the session-conversion KPI read them)."""
    activities = [ActivityInput(TimelineKind.SESSION, "started", channel, session_id=session)]
    activities += [
        ActivityInput(TimelineKind.VIEW, "viewed", channel, session_id=session, ref=sku)
        for sku in skus
    ]
    record_activities(uow, profile, activities)


def _sign_in(
    ctx: Context,
    person: Persona,
    rng: random.Random,
    session: _Session,
    start: str,
    channel: str,
    method: str,
) -> None:
    """Login: the anonymous cart becomes the customer's (merged into one they already had)."""
    card = person.card if rng.random() < 0.3 else None  # typed in their account page
    cart_id, token, skus = session.cart_id, session.token, session.skus

    def sign_in(uow: UnitOfWork) -> tuple[str, str]:
        profile = _identify(
            uow,
            person,
            start,
            ("email", person.email),
            _device(person, start),
            ("loyalty_card", card),
        )
        cart = carts.attach_customer(uow, cart_id, customer_id=profile, actor=Actor(start))
        _browsing(uow, profile, start, token, skus)
        return profile, cart.id

    signed = ctx.attempt(f"sign in {start}", sign_in)
    if signed is None:
        return
    person.profile_id, person.open_cart_id = signed
    if rng.random() < ABANDON_SHARE:
        ctx.tally["cart left"] += 1
        return
    delay = (
        hours(rng, 2, 0.9, cap=20) if start != channel else timedelta(minutes=rng.uniform(3, 20))
    )
    ctx.schedule(ctx.later(delay), lambda: _finish(ctx, person, rng, start, channel, method))


def _finish(
    ctx: Context, person: Persona, rng: random.Random, start: str, channel: str, method: str
) -> None:
    """Back on ``channel`` (the app after the desktop, say): the same cart is there."""

    def resume(uow: UnitOfWork) -> tuple[str, str | None]:
        profile = _identify(uow, person, channel, ("email", person.email), _device(person, channel))
        if start != channel:  # a new session on the other device
            _browsing(uow, profile, channel, f"{channel}-{rng.getrandbits(48):012x}", [])
        opened = carts.open_cart(uow, actor=Actor(channel), customer_id=profile)
        filled = uow.session.scalar(
            select(CartLineRow.id).where(CartLineRow.cart_id == opened.cart.id).limit(1)
        )
        return profile, (opened.cart.id if filled else None)

    resumed = ctx.attempt(f"resume {channel}", resume)
    if resumed is None:
        return
    person.profile_id, cart_id = resumed
    if cart_id is None:
        # another visit of theirs ordered this cart already (or it was emptied): done
        ctx.tally["nothing left to order"] += 1
        return
    if start != channel and cart_id == person.open_cart_id:
        ctx.tally[f"cart crossed {start}->{channel}"] += 1
    person.open_cart_id = None
    _order(ctx, person, rng, channel=channel, method=method, skus=[], cart_id=cart_id)


# -- call centre and marketplaces -----------------------------------------------------------------
def _phone_order(ctx: Context, person: Persona, rng: random.Random, method: str) -> None:
    found = ctx.attempt(
        "identify callcenter",
        lambda uow: _identify(
            uow, person, "callcenter", ("email", person.email), ("phone", person.phone)
        ),
    )
    if found is None:
        return
    person.profile_id = found
    pickup = _pickup_store(ctx, person, method)
    count = basket_size(rng)
    skus = (
        ctx.shelf_skus(rng, pickup, count, online=True)
        if pickup is not None
        else ctx.online_skus(rng, count)
    )
    if skus:
        _order(ctx, person, rng, channel="callcenter", method=method, skus=skus)


def _marketplace_order(ctx: Context, person: Persona, rng: random.Random, method: str) -> None:
    ref = f"MP-{ctx.tag}-{rng.getrandbits(40):010x}"
    found = ctx.attempt(
        "identify marketplace",
        lambda uow: _identify(
            uow,
            person,
            "marketplace",
            ("email", person.email),
            ("external:marketplace", f"mkp-buyer-{person.index}"),
        ),
    )
    if found is None:
        return
    person.profile_id = found
    skus = ctx.online_skus(rng, basket_size(rng))
    if skus:
        _order(ctx, person, rng, channel="marketplace", method=method, skus=skus, external_ref=ref)


# -- store visits ---------------------------------------------------------------------------------
def _till_identity(person: Persona, rng: random.Random) -> tuple[str, str] | None:
    """How the customer makes themselves known at the till, if they do."""
    if person.card and rng.random() < 0.8:
        return ("loyalty_card", person.card)
    if person.phone and rng.random() < 0.35:
        return ("phone", person.phone)
    return None


def _on_shelf(uow: UnitOfWork, store: Place, skus: list[str]) -> list[str]:
    level = StockLevelRow
    rows = uow.session.execute(
        select(level.sku).where(
            level.location_id == store.id,
            level.sku.in_(skus),
            level.on_hand - level.reserved - level.committed - level.damaged > 0,
        )
    ).scalars()
    found = set(rows)
    return [s for s in skus if s in found]


def _till_sale(ctx: Context, person: Persona, rng: random.Random) -> None:
    store = ctx.home_store(person)
    wanted = ctx.shelf_skus(rng, store, basket_size(rng))
    shown = _till_identity(person, rng)
    ticket = f"T-{store.code}-{ctx.tag}-{rng.getrandbits(32):08x}"

    def sell(uow: UnitOfWork) -> tuple[str | None] | None:
        """The sale, and who bought (None: an anonymous sale); None when nothing was left."""
        skus = _on_shelf(uow, store, wanted)
        if not skus:
            return None
        customer_id = card = None
        if shown is not None and shown[0] == "phone":
            customer_id = _identify(uow, person, "pos", shown)
        elif shown is not None:
            card = shown[1]
        inventory.sell_at_till(
            uow,
            location_id=store.id,
            lines=[inventory.Line(sku, 1) for sku in skus],
            ref=inventory.Reference("till_sale", ticket, "till sale"),
            actor="till",
        )
        prices = price_skus(
            uow.session,
            skus,
            currency=CURRENCY,
            channel="pos",
            store_id=store.id,
            store_bound=True,
            at=uow.now(),
        )
        lines = [EarnLine(s, 1, prices[s].unit_price_minor, prices[s].category) for s in skus]
        outcome = loyalty.record_purchase(
            uow,
            channel="pos",
            ref_type=RefType.TILL_SALE,
            ref_id=ticket,
            amount=Money(sum(line.unit_price_minor for line in lines), CURRENCY),
            lines=lines,
            customer_id=customer_id,
            card=card,
            store_id=store.id,
        )
        buyer = outcome.purchase.customer_id
        recommendations.record_purchase(
            uow,
            recommendations.Purchase(
                source="till",
                source_ref=ticket,
                channel="pos",
                skus=[(s, 1) for s in skus],
                at=uow.now(),
                customer_id=buyer,
                store_id=store.id,
            ),
        )
        return (buyer,)

    sold = ctx.attempt("till sale", sell)
    if sold is None:
        ctx.tally["nothing left on the shelf"] += 1
        return
    (buyer,) = sold
    ctx.tally["till sale identified" if buyer else "till sale anonymous"] += 1
    if buyer is not None:
        person.profile_id = buyer
        _associate_adds_to_cart(ctx, person, rng, store)


def _associate_adds_to_cart(
    ctx: Context, person: Persona, rng: random.Random, store: Place
) -> None:
    """The associate finds the customer's web cart and adds an accessory to it."""
    if person.open_cart_id is None or rng.random() >= ASSOCIATE_ADDS_SHARE:
        return
    extras = ctx.popular(rng, ctx.world.accessories.get(store.id, []), 1)
    if not extras:
        return
    cart_id = person.open_cart_id

    def add(uow: UnitOfWork) -> str:
        cart = carts.add_line(
            uow,
            cart_id,
            sku=extras[0],
            quantity=1,
            actor=Actor("pos", store.id, "associate"),
            customer_id=person.profile_id,
        )
        return cart.id

    ctx.attempt("associate adds to web cart", add)


def _endless_aisle(ctx: Context, person: Persona, rng: random.Random) -> None:
    """Not on this store's shelf: the associate orders it for delivery at home."""
    store = ctx.home_store(person)
    shelf = set(ctx.world.shelves.get(store.id, []))
    skus = [s for s in ctx.online_skus(rng, 8) if s not in shelf and ctx.world.by_sku[s].in_store][
        :1
    ]
    if not skus:
        return
    found = ctx.attempt(
        "identify pos",
        lambda uow: _identify(uow, person, "pos", ("email", person.email), ("phone", person.phone)),
    )
    if found is not None:
        person.profile_id = found
        _order(ctx, person, rng, channel="pos", method="endless_aisle", skus=skus, store=store)
