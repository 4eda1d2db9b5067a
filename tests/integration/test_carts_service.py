"""Cart services on the real database: one cart per customer, merges, holds, handoffs, races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from omnicanal.carts import service
from omnicanal.carts.consumers import on_profile_merged
from omnicanal.carts.model import MERGE_RULE
from omnicanal.carts.service import Actor
from omnicanal.carts.tables import CartHandoffRow, CartLineRow, CartRow
from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.customers import service as customers
from omnicanal.customers.model import normalise_identifiers
from omnicanal.events.dispatch import drain
from omnicanal.events.model import StoredEvent
from omnicanal.events.tables import OutboxEventRow, ProcessedEventRow
from omnicanal.inventory import service as inventory
from omnicanal.inventory.model import InsufficientStock
from omnicanal.inventory.tables import ReservationRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
)
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from tests.inventory_checks import assert_ledger_equals_levels, level_of
from tests.inventory_factories import make_location

WEB = Actor("web", key_id="key_web")
APP = Actor("app", key_id="key_app")


def make_product(
    db: Database, *skus: str, assortment: str = "omnichannel", price: int | None = 4999
) -> None:
    """SKUs of one product, priced in EUR (``price`` minor units) unless ``price`` is None."""
    now = db.clock.now()
    product_id = new_id("prd")
    with db.uow() as uow:
        uow.session.add(
            ProductRow(
                id=product_id,
                title=f"Product {skus[0]}",
                title_lower=f"product {skus[0]}".lower(),
                description="",
                brand=None,
                category=None,
                attributes={},
                images=[],
                assortment=assortment,
                status="active",
                created_at=now,
                updated_at=now,
            )
        )
        uow.session.flush()
        for sku in skus:
            uow.session.add(
                VariantRow(
                    id=new_id("var"),
                    product_id=product_id,
                    sku=sku,
                    gtin=None,
                    title=f"Variant {sku}",
                    title_lower=f"variant {sku}".lower(),
                    attributes={},
                    images=[],
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
            uow.session.flush()
            if price is not None:
                uow.session.add(
                    BasePriceRow(sku=sku, currency="EUR", amount_minor=price, updated_at=now)
                )


def customer(db: Database, *pairs: tuple[str, str], channel: str = "web") -> str:
    with db.uow() as uow:
        return customers.identify(
            uow, identifiers=normalise_identifiers(list(pairs)), channel=channel
        ).profile_id


def run(db: Database, use_case: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with db.uow() as uow:
        return use_case(uow, *args, **kwargs)


def open_cart(db: Database, actor: Actor = WEB, **kwargs: Any) -> str:
    with db.uow() as uow:
        return service.open_cart(uow, actor=actor, **kwargs).cart.id


def lines_of(db: Database, cart_id: str) -> dict[str, int]:
    with db.read() as s:
        rows = s.scalars(select(CartLineRow).where(CartLineRow.cart_id == cart_id))
        return {r.sku: r.quantity for r in rows}


def cart_row(db: Database, cart_id: str) -> CartRow:
    with db.read() as s:
        row = s.get(CartRow, cart_id)
        assert row is not None
        return row


def events(db: Database, prefix: str = "carts.") -> list[OutboxEventRow]:
    with db.read() as s:
        return list(
            s.scalars(
                select(OutboxEventRow)
                .where(OutboxEventRow.type.startswith(prefix))
                .order_by(OutboxEventRow.seq)
            )
        )


@pytest.fixture
def catalogue(db: Database) -> None:
    make_product(db, "SHOE-42", "SHOE-43", price=8999)
    make_product(db, "SOCKS", price=1299)
    make_product(db, "CAP", price=2500)
    make_product(db, "LACES-STORE", assortment="store_only", price=399)
    make_product(db, "UNPRICED", price=None)


@pytest.fixture
def store(db: Database, catalogue: None) -> str:
    location = make_location(db, "PAR-RIVOLI")
    with db.uow() as uow:
        inventory.receive(
            uow,
            location_id=location,
            lines=[
                inventory.Line("SHOE-42", 3),
                inventory.Line("SOCKS", 10),
                inventory.Line("LACES-STORE", 5),
            ],
        )
    return location


# -- one cart per customer and currency ---------------------------------------------------------
def test_every_device_of_a_customer_opens_the_same_cart(db: Database, catalogue: None) -> None:
    zoe = customer(db, ("email", "zoe@example.fr"))
    with db.uow() as uow:
        first = service.open_cart(uow, actor=WEB, customer_id=zoe)
    with db.uow() as uow:
        again = service.open_cart(uow, actor=APP, customer_id=zoe)
    assert first.created
    assert not again.created
    assert again.cart.id == first.cart.id
    assert open_cart(db, APP, customer_id=zoe, currency="GBP") != first.cart.id
    anonymous = open_cart(db)
    assert cart_row(db, anonymous).anonymous_token
    token = cart_row(db, anonymous).anonymous_token
    assert open_cart(db, anonymous_token=token) == anonymous
    [created] = [e for e in events(db) if e.subject == first.cart.id]
    assert created.type == "carts.cart.created"
    assert created.data["profile_id"] == zoe
    assert created.data["channel"] == "web"


def test_lines_record_who_added_them_and_adding_again_adds_up(db: Database, store: str) -> None:
    zoe = customer(db, ("email", "zoe@example.fr"))
    cart = open_cart(db, customer_id=zoe)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=WEB)
    till = Actor("pos", store_id=store, key_id="key_till")
    run(db, service.add_line, cart, sku="SOCKS", quantity=2, actor=till)
    run(db, service.add_line, cart, sku="LACES-STORE", quantity=1, actor=till)
    assert lines_of(db, cart) == {"SOCKS": 3, "LACES-STORE": 1}
    with db.read() as s:
        socks = s.scalars(select(CartLineRow).where(CartLineRow.sku == "SOCKS")).one()
        laces = s.scalars(select(CartLineRow).where(CartLineRow.sku == "LACES-STORE")).one()
    assert (socks.added_channel, socks.added_store_id) == ("web", None)
    assert (socks.changed_channel, socks.changed_store_id) == ("pos", store)
    assert (laces.added_channel, laces.added_store_id, laces.added_by) == ("pos", store, "key_till")
    added = [e for e in events(db) if e.type == "carts.line.added"]
    assert [
        (e.subject, e.data["profile_id"], e.data["channel"], e.data["store_id"]) for e in added
    ] == [
        (cart, zoe, "web", None),
        (cart, zoe, "pos", store),
        (cart, zoe, "pos", store),
    ]
    assert added[1].data["quantity"] == 2
    assert added[1].data["line_quantity"] == 3


def _no_change(db: Database, cart: str, attempt: Callable[[], Any]) -> DomainError:
    """The attempt is refused with a domain error, and the cart and the outbox are as before."""
    before_lines, before_events = lines_of(db, cart), len(events(db, ""))
    with pytest.raises(DomainError) as refused:
        attempt()
    assert lines_of(db, cart) == before_lines
    assert len(events(db, "")) == before_events
    return refused.value


def test_bad_additions_are_refused_and_change_nothing(db: Database, store: str) -> None:
    cart = open_cart(db)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=WEB)

    def add(sku: str, quantity: int = 1, actor: Actor = WEB) -> Callable[[], Any]:
        return lambda: run(db, service.add_line, cart, sku=sku, quantity=quantity, actor=actor)

    unknown = _no_change(db, cart, add("NOPE"))
    assert isinstance(unknown, NotFound)
    assert unknown.code == "unknown-sku"
    store_only = _no_change(db, cart, add("LACES-STORE"))
    assert isinstance(store_only, InvalidInput)
    assert store_only.code == "not-sold-on-channel"
    assert "store only" in store_only.detail
    unpriced = _no_change(db, cart, add("UNPRICED"))
    assert isinstance(unpriced, Conflict)
    assert unpriced.code == "no-price"
    for bad in (0, -2, 100):
        assert isinstance(_no_change(db, cart, add("SOCKS", bad)), InvalidInput)
    too_many = _no_change(db, cart, add("SOCKS", 99))
    assert isinstance(too_many, InvalidInput)
    assert too_many.extensions["in_cart"] == 1
    # a callcenter agent is not in the store either; a store-bound key is
    assert isinstance(
        _no_change(db, cart, add("LACES-STORE", actor=Actor("callcenter"))), InvalidInput
    )
    run(
        db,
        service.add_line,
        cart,
        sku="LACES-STORE",
        quantity=1,
        actor=Actor("app", store_id=store),
    )


def test_changing_and_removing_lines(db: Database, catalogue: None) -> None:
    cart = open_cart(db)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=WEB)
    line_id = _line_id(db, cart, "SOCKS")
    run(db, service.change_line, cart, line_id, quantity=4, actor=APP)
    assert lines_of(db, cart) == {"SOCKS": 4}
    run(db, service.change_line, cart, line_id, quantity=4, actor=APP)  # same: no event
    run(db, service.remove_line, cart, line_id, actor=APP)
    assert lines_of(db, cart) == {}
    assert [e.type for e in events(db)][1:] == [
        "carts.line.added",
        "carts.line.changed",
        "carts.line.removed",
    ]
    with pytest.raises(NotFound) as gone:
        run(db, service.remove_line, cart, line_id, actor=APP)
    assert gone.value.code == "cart-line-not-found"


def _line_id(db: Database, cart: str, sku: str) -> str:
    with db.read() as s:
        return s.scalars(
            select(CartLineRow.id).where(CartLineRow.cart_id == cart, CartLineRow.sku == sku)
        ).one()


# -- login: attach and merge --------------------------------------------------------------------
def test_an_anonymous_cart_becomes_the_customers_at_login(db: Database, catalogue: None) -> None:
    cart = open_cart(db)
    run(db, service.add_line, cart, sku="SOCKS", quantity=2, actor=WEB)
    zoe = customer(db, ("email", "zoe@example.fr"))
    bound = run(db, service.attach_customer, cart, customer_id=zoe, actor=WEB)
    assert bound.id == cart
    row = cart_row(db, cart)
    assert (row.profile_id, row.anonymous_token) == (zoe, None)
    assert open_cart(db, APP, customer_id=zoe) == cart  # the app finds it
    version = cart_row(db, cart).version
    run(db, service.attach_customer, cart, customer_id=zoe, actor=WEB)  # a retried login
    assert cart_row(db, cart).version == version
    assert [e.type for e in events(db)][-1] == "carts.cart.attached"


def test_at_login_an_anonymous_cart_merges_into_the_customers_cart_keeping_the_larger_quantity(
    db: Database, catalogue: None
) -> None:
    zoe = customer(db, ("email", "zoe@example.fr"))
    theirs = open_cart(db, APP, customer_id=zoe)
    run(db, service.add_line, theirs, sku="SHOE-42", quantity=1, actor=APP)
    run(db, service.add_line, theirs, sku="SOCKS", quantity=3, actor=APP)
    desktop = open_cart(db)
    run(db, service.add_line, desktop, sku="SHOE-42", quantity=2, actor=WEB)
    run(db, service.add_line, desktop, sku="SOCKS", quantity=1, actor=WEB)
    run(db, service.add_line, desktop, sku="CAP", quantity=1, actor=WEB)

    survivor = run(db, service.attach_customer, desktop, customer_id=zoe, actor=WEB)

    assert survivor.id == theirs
    assert lines_of(db, theirs) == {"SHOE-42": 2, "SOCKS": 3, "CAP": 1}
    assert lines_of(db, desktop) == {}
    absorbed = cart_row(db, desktop)
    assert (absorbed.status, absorbed.merged_into, absorbed.anonymous_token) == (
        "merged",
        theirs,
        None,
    )
    with db.read() as s:
        cap = s.scalars(select(CartLineRow).where(CartLineRow.sku == "CAP")).one()
        shoe = s.scalars(select(CartLineRow).where(CartLineRow.sku == "SHOE-42")).one()
    assert cap.added_channel == "web"  # a moved line keeps where it came from
    assert (shoe.added_channel, shoe.changed_channel) == ("app", "web")
    merged = events(db)[-1]
    assert merged.type == "carts.cart.merged"
    assert merged.subject == theirs
    assert merged.data["absorbed_cart_id"] == desktop
    assert merged.data["rule"] == MERGE_RULE
    assert merged.data["reason"] == "login"
    assert merged.data["profile_id"] == zoe
    assert merged.data["lines"] == {"CAP": 1, "SHOE-42": 2, "SOCKS": 3}
    # the desktop still holding the old id lands on the customer's cart
    with db.uow() as uow:
        assert service.live_cart(uow.session, desktop).id == theirs
    run(db, service.add_line, desktop, sku="SOCKS", quantity=1, actor=WEB)
    assert lines_of(db, theirs)["SOCKS"] == 4
    # and a retried login changes nothing more
    again = run(db, service.attach_customer, desktop, customer_id=zoe, actor=WEB)
    assert again.id == theirs
    assert lines_of(db, theirs)["SOCKS"] == 4


def test_a_cart_of_another_customer_is_refused(db: Database, catalogue: None) -> None:
    zoe = customer(db, ("email", "zoe@example.fr"))
    leo = customer(db, ("email", "leo@example.fr"))
    cart = open_cart(db, customer_id=zoe)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=WEB)
    refused = _no_change(
        db, cart, lambda: run(db, service.attach_customer, cart, customer_id=leo, actor=WEB)
    )
    assert isinstance(refused, Forbidden)
    assert refused.code == "cart-of-another-customer"
    refused = _no_change(
        db,
        cart,
        lambda: run(db, service.add_line, cart, sku="CAP", quantity=1, actor=WEB, customer_id=leo),
    )
    assert isinstance(refused, Forbidden)
    run(db, service.add_line, cart, sku="CAP", quantity=1, actor=WEB, customer_id=zoe)
    assert cart_row(db, cart).profile_id == zoe


# -- stock holds --------------------------------------------------------------------------------
def test_a_tills_lines_hold_stock_at_its_store_and_removing_or_abandoning_releases(
    db: Database, store: str
) -> None:
    till = Actor("pos", store_id=store, key_id="key_till")
    cart = open_cart(db, till)
    run(db, service.add_line, cart, sku="SHOE-42", quantity=1, actor=till)
    run(db, service.add_line, cart, sku="SOCKS", quantity=2, actor=till)
    assert level_of(db, "SHOE-42", store).reserved == 1
    run(db, service.add_line, cart, sku="SHOE-42", quantity=1, actor=till)
    assert level_of(db, "SHOE-42", store).reserved == 2
    with db.read() as s:
        holds = list(
            s.scalars(
                select(ReservationRow).where(
                    ReservationRow.owner_id == cart, ReservationRow.status == "active"
                )
            )
        )
    assert {(h.owner_type, h.sku, h.quantity, h.location_id) for h in holds} == {
        ("cart", "SHOE-42", 2, store),
        ("cart", "SOCKS", 2, store),
    }
    assert all(h.expires_at is not None for h in holds)
    refused = _no_change(
        db, cart, lambda: run(db, service.add_line, cart, sku="SHOE-42", quantity=2, actor=till)
    )
    # the line may hold at most the 3 pairs there are (its own 2 included)
    assert isinstance(refused, InsufficientStock)
    assert refused.extensions["available"] == 3
    assert level_of(db, "SHOE-42", store).reserved == 2
    run(db, service.remove_line, cart, _line_id(db, cart, "SHOE-42"), actor=till)
    assert level_of(db, "SHOE-42", store).reserved == 0
    run(db, service.abandon, cart, actor=till)
    assert level_of(db, "SOCKS", store).reserved == 0
    assert cart_row(db, cart).status == "abandoned"
    with pytest.raises(Conflict) as closed:
        run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=till)
    assert closed.value.code == "cart-closed"
    assert_ledger_equals_levels(db)


def test_web_lines_hold_nothing_until_a_pickup_store_is_chosen(db: Database, store: str) -> None:
    cart = open_cart(db)
    run(db, service.add_line, cart, sku="SHOE-42", quantity=2, actor=WEB)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=WEB)
    assert level_of(db, "SHOE-42", store).reserved == 0
    run(db, service.choose_pickup, cart, location_id=store, actor=WEB)
    assert (level_of(db, "SHOE-42", store).reserved, level_of(db, "SOCKS", store).reserved) == (
        2,
        1,
    )
    run(db, service.add_line, cart, sku="SHOE-42", quantity=1, actor=WEB)
    assert level_of(db, "SHOE-42", store).reserved == 3
    run(db, service.choose_pickup, cart, location_id=None, actor=WEB)
    assert level_of(db, "SHOE-42", store).reserved == 0
    other = make_location(db, "PAR-BASTILLE")  # has nothing: all or nothing
    refused = _no_change(
        db, cart, lambda: run(db, service.choose_pickup, cart, location_id=other, actor=WEB)
    )
    assert isinstance(refused, InsufficientStock)
    assert cart_row(db, cart).pickup_location_id is None
    assert_ledger_equals_levels(db)


def test_an_expired_hold_is_taken_again_on_the_next_change(
    db: Database, store: str, clock: FrozenClock
) -> None:
    till = Actor("pos", store_id=store)
    cart = open_cart(db, till)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=till)
    clock.advance(minutes=31)
    with db.uow() as uow:
        assert inventory.sweep_expired(uow) == 1
    assert level_of(db, "SOCKS", store).reserved == 0
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=till)
    assert level_of(db, "SOCKS", store).reserved == 2
    run(db, service.abandon, cart, actor=till)
    assert level_of(db, "SOCKS", store).reserved == 0
    assert_ledger_equals_levels(db)


def test_a_merge_never_fails_a_login_for_lack_of_stock(db: Database, store: str) -> None:
    zoe = customer(db, ("email", "zoe@example.fr"))
    till = Actor("pos", store_id=store)
    theirs = open_cart(db, customer_id=zoe, pickup_location_id=store)
    run(db, service.add_line, theirs, sku="SHOE-42", quantity=2, actor=WEB)
    with db.uow() as uow:  # someone else takes the last pair
        inventory.sell_at_till(uow, location_id=store, lines=[inventory.Line("SHOE-42", 1)])
    anon = open_cart(db, till)
    run(db, service.add_line, anon, sku="SOCKS", quantity=1, actor=till)
    with db.uow() as uow:
        inventory.adjust(uow, location_id=store, sku="SOCKS", counted=1)
    desktop = open_cart(db)
    run(db, service.add_line, desktop, sku="SHOE-42", quantity=3, actor=WEB)
    survivor = run(db, service.attach_customer, desktop, customer_id=zoe, actor=WEB)
    assert survivor.id == theirs
    assert lines_of(db, theirs)["SHOE-42"] == 3  # the rule is kept; the hold stays at 2
    with db.read() as s:
        shoe = s.scalars(select(CartLineRow).where(CartLineRow.sku == "SHOE-42")).one()
    assert (shoe.quantity, shoe.reserved_quantity) == (3, 2)
    assert level_of(db, "SHOE-42", store).reserved == 2
    assert_ledger_equals_levels(db)


# -- handoff ------------------------------------------------------------------------------------
def test_a_till_cart_handed_off_is_claimed_on_the_phone_into_the_customers_cart(
    db: Database, store: str, clock: FrozenClock
) -> None:
    till = Actor("pos", store_id=store, key_id="key_till")
    zoe = customer(db, ("phone", "0612345678"))
    theirs = open_cart(db, APP, customer_id=zoe)
    run(db, service.add_line, theirs, sku="CAP", quantity=1, actor=APP)
    at_till = open_cart(db, till)
    run(db, service.add_line, at_till, sku="SOCKS", quantity=2, actor=till)
    with pytest.raises(Conflict):  # an empty cart is not worth sending
        run(
            db,
            service.hand_off,
            open_cart(db, Actor("pos", store_id=store), anonymous_token="t" * 20),
            actor=till,
        )
    handoff = run(db, service.hand_off, at_till, actor=till, ttl_minutes=10)
    assert handoff.expires_at == clock.now() + timedelta(minutes=10)
    claimed = run(db, service.claim_handoff, handoff.code.lower(), actor=APP, customer_id=zoe)
    assert claimed.cart.id == theirs
    assert lines_of(db, theirs) == {"CAP": 1, "SOCKS": 2}
    assert level_of(db, "SOCKS", store).reserved == 2  # still held at the store
    again = run(db, service.claim_handoff, handoff.code, actor=APP, customer_id=zoe)
    assert again.cart.id == theirs  # a retried claim
    leo = customer(db, ("email", "leo@example.fr"))
    with pytest.raises(Conflict) as taken:
        run(db, service.claim_handoff, handoff.code, actor=APP, customer_id=leo)
    assert taken.value.code == "handoff-already-claimed"
    kinds = [e.type for e in events(db) if e.subject == theirs]
    assert kinds[-2:] == ["carts.cart.merged", "carts.cart.claimed"]
    claimed_event = events(db)[-1]
    assert claimed_event.data["handed_off_cart_id"] == at_till
    assert claimed_event.data["profile_id"] == zoe
    assert claimed_event.data["channel"] == "app"
    assert all(handoff.code not in str(e.data) for e in events(db))  # a bearer secret
    assert_ledger_equals_levels(db)


def test_an_anonymous_phone_claims_a_till_cart_for_its_session(db: Database, store: str) -> None:
    till = Actor("pos", store_id=store)
    cart = open_cart(db, till)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=till)
    handoff = run(db, service.hand_off, cart, actor=till)
    session_token = "phone-session-0123456789"
    claimed = run(db, service.claim_handoff, handoff.code, actor=APP, anonymous_token=session_token)
    assert claimed.cart.id == cart
    assert cart_row(db, cart).anonymous_token == session_token
    assert open_cart(db, APP, anonymous_token=session_token) == cart


def test_an_expired_or_replaced_handoff_code_is_gone(
    db: Database, store: str, clock: FrozenClock
) -> None:
    till = Actor("pos", store_id=store)
    zoe = customer(db, ("email", "zoe@example.fr"))
    cart = open_cart(db, till)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=till)
    first = run(db, service.hand_off, cart, actor=till)
    second = run(db, service.hand_off, cart, actor=till, ttl_minutes=5)
    with pytest.raises(Gone) as replaced:
        run(db, service.claim_handoff, first.code, actor=APP, customer_id=zoe)
    assert replaced.value.code == "handoff-replaced"
    clock.advance(minutes=5)
    with pytest.raises(Gone) as expired:
        run(db, service.claim_handoff, second.code, actor=APP, customer_id=zoe)
    assert expired.value.code == "handoff-expired"
    assert cart_row(db, cart).profile_id is None
    with pytest.raises(NotFound):
        run(db, service.claim_handoff, "ZZZZ-ZZZZ", actor=APP, customer_id=zoe)
    with db.read() as s:
        statuses = sorted(s.scalars(select(CartHandoffRow.status)))
    assert statuses == ["pending", "replaced"]


def test_a_bound_cart_handed_off_cannot_be_claimed_by_another_customer(
    db: Database, store: str
) -> None:
    till = Actor("pos", store_id=store)
    zoe = customer(db, ("email", "zoe@example.fr"))
    leo = customer(db, ("email", "leo@example.fr"))
    cart = open_cart(db, till, customer_id=zoe)
    run(db, service.add_line, cart, sku="SOCKS", quantity=1, actor=till)
    handoff = run(db, service.hand_off, cart, actor=till)
    with pytest.raises(Forbidden) as refused:
        run(db, service.claim_handoff, handoff.code, actor=APP, customer_id=leo)
    assert refused.value.code == "cart-of-another-customer"
    claimed = run(db, service.claim_handoff, handoff.code, actor=APP, customer_id=zoe)
    assert claimed.cart.id == cart
    assert claimed.handoff.claimed_by == zoe


# -- carts follow customer merges ---------------------------------------------------------------
def test_carts_follow_a_customer_merge_through_the_event_consumer(
    db: Database, catalogue: None
) -> None:
    by_phone = customer(db, ("phone", "0611223344"), channel="pos")
    by_email = customer(db, ("email", "ana@example.fr"))
    till_cart = open_cart(db, Actor("pos"), customer_id=by_phone)
    run(db, service.add_line, till_cart, sku="SOCKS", quantity=2, actor=WEB)
    web_cart = open_cart(db, customer_id=by_email)
    run(db, service.add_line, web_cart, sku="SOCKS", quantity=1, actor=WEB)
    run(db, service.add_line, web_cart, sku="CAP", quantity=1, actor=WEB)
    gbp_cart = open_cart(db, customer_id=by_email, currency="GBP")
    drain(db)
    # the same person: one identify with both identifiers merges the profiles
    survivor = customer(db, ("phone", "0611223344"), ("email", "ana@example.fr"))
    assert survivor == by_phone  # the oldest profile survives
    drain(db)
    assert cart_row(db, web_cart).status == "merged"
    assert cart_row(db, web_cart).merged_into == till_cart
    assert lines_of(db, till_cart) == {"SOCKS": 2, "CAP": 1}
    assert cart_row(db, gbp_cart).profile_id == survivor  # nothing to merge with: it moves
    assert open_cart(db, APP, customer_id=by_email) == till_cart  # the absorbed id resolves
    merged = [e for e in events(db) if e.type == "carts.cart.merged"]
    assert [(m.data["reason"], m.subject) for m in merged] == [("profile_merge", till_cart)]
    assert [e.subject for e in events(db) if e.type == "carts.cart.reassigned"] == [gbp_cart]
    with db.read() as s:
        done = s.scalar(
            select(func.count())
            .select_from(ProcessedEventRow)
            .where(ProcessedEventRow.consumer == "carts.follow-merges")
        )
    assert done == 1


def test_following_a_merge_twice_changes_nothing(db: Database, catalogue: None) -> None:
    a = customer(db, ("email", "a@example.fr"))
    b = customer(db, ("email", "b@example.fr"))
    cart_a, cart_b = open_cart(db, customer_id=a), open_cart(db, customer_id=b)
    run(db, service.add_line, cart_b, sku="CAP", quantity=1, actor=WEB)
    event = StoredEvent(
        id="evt_x",
        type="customers.profile.merged",
        subject=a,
        data={"survivor_id": a, "absorbed_ids": [b], "channel": "web"},
        occurred_at=db.clock.now(),
        position=1,
    )
    with db.uow() as uow:  # a profile merge without customers: only carts move
        uow.session.get(CartRow, cart_a)
        on_profile_merged(uow, event)
    snapshot = (lines_of(db, cart_a), cart_row(db, cart_b).status, len(events(db)))
    with db.uow() as uow:
        on_profile_merged(uow, event)
    assert (lines_of(db, cart_a), cart_row(db, cart_b).status, len(events(db))) == snapshot
    assert snapshot[:2] == ({"CAP": 1}, "merged")


# -- concurrency --------------------------------------------------------------------------------
def race(n: int, attempt: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def go(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def test_two_devices_adding_at_once_never_lose_a_line(db: Database, catalogue: None) -> None:
    make_product(db, *(f"ITEM-{i}" for i in range(8)), price=100)
    zoe = customer(db, ("email", "zoe@example.fr"))
    cart = open_cart(db, customer_id=zoe)

    def add(i: int) -> None:
        device = WEB if i % 2 else APP
        sku = f"ITEM-{i // 2}" if i < 16 else "SOCKS"
        with db.uow() as uow:
            service.add_line(uow, cart, sku=sku, quantity=1, actor=device)

    errors = race(24, add)
    assert not errors, errors
    lines = lines_of(db, cart)
    assert lines == {**{f"ITEM-{i}": 2 for i in range(8)}, "SOCKS": 8}
    assert cart_row(db, cart).version == 1 + 24
    assert len([e for e in events(db) if e.type == "carts.line.added"]) == 24


def test_devices_opening_the_customers_cart_at_once_get_one_cart(
    db: Database, catalogue: None
) -> None:
    zoe = customer(db, ("email", "zoe@example.fr"))
    opened: list[str] = []

    def open_one(i: int) -> None:
        opened.append(open_cart(db, WEB if i % 2 else APP, customer_id=zoe))

    assert not race(10, open_one)
    assert len(set(opened)) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CartRow)) == 1


def test_logins_racing_from_two_anonymous_carts_end_in_one_cart(
    db: Database, catalogue: None
) -> None:
    zoe = customer(db, ("email", "zoe@example.fr"))
    carts = []
    for sku in ("SOCKS", "CAP", "SHOE-42", "SHOE-43"):
        cart = open_cart(db)
        run(db, service.add_line, cart, sku=sku, quantity=1, actor=WEB)
        carts.append(cart)

    def login(i: int) -> None:
        run(db, service.attach_customer, carts[i], customer_id=zoe, actor=WEB)

    assert not race(4, login)
    with db.read() as s:
        open_carts = list(s.scalars(select(CartRow).where(CartRow.status == "open")))
    assert len(open_carts) == 1
    assert open_carts[0].profile_id == zoe
    assert lines_of(db, open_carts[0].id) == {"SOCKS": 1, "CAP": 1, "SHOE-42": 1, "SHOE-43": 1}
