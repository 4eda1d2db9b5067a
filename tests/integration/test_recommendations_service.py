"""Recommendations learn from orders of every channel, till sales and returns: journeys through
real orders (place_order, cancel), the events consumer (drain) and the exchange entry point."""

from __future__ import annotations

from omnicanal.customers.model import Identifier
from omnicanal.customers.service import identify
from omnicanal.events.dispatch import drain
from omnicanal.orders import fulfilment
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.recommendations import service, views
from omnicanal.recommendations.service import Purchase, bought_with
from omnicanal.returns.events import ReturnReceived
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.order_factories import Network, make_network


def customer(db: Database, email: str) -> str:
    with db.uow() as uow:
        return identify(uow, identifiers=[Identifier("email", email)], channel="web").profile_id


def place(
    db: Database, net: Network, skus: list[str], *, channel: str = "web", who: str | None = None
) -> str:
    request = orders.OrderRequest(
        channel=channel,
        currency="EUR",
        customer_id=who,
        store_id=net.rivoli if channel == "pos" else None,
        groups=[
            orders.GroupRequest(
                method=Method.CLICK_AND_COLLECT,
                lines=[orders.LineRequest(sku, 1) for sku in skus],
                location_id=net.bastille,
            )
        ],
    )
    with db.uow() as uow:
        return orders.place_order(uow, request).order.id


def till_sale(db: Database, ref: str, skus: list[str], who: str | None = None) -> None:
    with db.uow() as uow:
        service.record_purchase(
            uow,
            Purchase("till", ref, "pos", [(sku, 1) for sku in skus], db.clock.now(), who),
        )


def test_orders_of_every_channel_feed_bought_with_and_cancellation_takes_them_back(
    db: Database,
) -> None:
    net = make_network(db, stock={"bastille": {"SHOE-42": 10, "SOCKS": 10, "CAP": 10}})
    place(db, net, ["SHOE-42", "SOCKS"], channel="web")
    place(db, net, ["SHOE-42", "SOCKS"], channel="app")
    cap_order = place(db, net, ["SHOE-42", "CAP"], channel="callcenter")
    with db.read() as session:
        assert bought_with(session, ["SHOE-42"]) == []  # nothing consumed yet
    drain(db)
    with db.read() as session:
        ranked = bought_with(session, ["SHOE-42"])
        assert [sku for sku, _ in ranked] == ["SOCKS", "CAP"]
        assert bought_with(session, ["SHOE-42"], exclude={"SOCKS"}) == ranked[1:]
        assert bought_with(session, ["SHOE-42"], limit=1) == ranked[:1]

    with db.uow() as uow:
        fulfilment.cancel(uow, cap_order, reason="changed mind")
    drain(db)
    with db.read() as session:
        assert [sku for sku, _ in bought_with(session, ["SHOE-42"])] == ["SOCKS"]
        assert bought_with(session, ["CAP"]) == []


def test_till_sales_count_like_orders_and_once(db: Database) -> None:
    till_sale(db, "T-1", ["SHOE-42", "CAP"])
    till_sale(db, "T-1", ["SHOE-42", "CAP"])  # the till retried
    till_sale(db, "T-2", ["SHOE-42", "SOCKS"])
    with db.read() as session:
        model = service.current_model(session)
        assert model.baskets == 2
        assert model.count("SHOE-42", "CAP") == 1


def test_the_cache_follows_the_version_and_refresh_rebuilds_only_when_it_moved(
    db: Database,
) -> None:
    till_sale(db, "T-1", ["A", "B"])
    first = service.rebuild(db)
    assert first.version == 1
    assert service.refresh(db) == 0
    till_sale(db, "T-2", ["A", "C"])
    assert service.refresh(db) == 1
    with db.read() as session:
        assert service.current_model(session).version == 2
        assert {sku for sku, _ in bought_with(session, ["A"])} == {"B", "C"}


def test_a_returned_sku_never_comes_back_for_that_customer(
    db: Database, clock: FrozenClock
) -> None:
    net = make_network(db, stock={"bastille": {"SHOE-42": 10, "SOCKS": 10, "CAP": 10}})
    zoe = customer(db, "zoe@example.com")
    other = customer(db, "max@example.com")
    for n in range(3):  # the crowd buys socks and caps with shoes
        till_sale(db, f"T-{n}", ["SHOE-42", "SOCKS", "CAP"])
    order = place(db, net, ["SHOE-42", "SOCKS"], who=zoe)
    drain(db)
    with db.uow() as uow:
        uow.emit(
            ReturnReceived(
                return_id="ret_1",
                order_id=order,
                customer_id=None,  # read from the order's basket
                profile_id=None,
                channel="pos",
                order_channel="web",
                store_id=net.rivoli,
                location_id=net.rivoli,
                status="received",
                resolution="refund",
                refund_minor=2500,
                currency="EUR",
                refund={"amount": "25.00", "currency": "EUR"},
                money_refunded_minor=2500,
                item_count=1,
                lines=[{"sku": "CAP", "quantity": 1, "condition": "resellable"}],
            )
        )
    drain(db)
    clock.advance(days=400)  # long after: the return still counts, the purchase not
    with db.read() as session:
        offers = views.for_customer(session, zoe, now=clock.now(), limit=10)
        assert "CAP" not in [s.sku for s in offers.items]
        assert "CAP" in offers.excluded
        # another customer who bought shoes is offered caps: only Zoe returned them
        till_sale(db, "T-9", ["SHOE-42"], who=other)
    with db.read() as session:
        assert "CAP" in [s.sku for s in views.for_customer(session, other, now=clock.now()).items]


def test_next_best_offer_uses_history_across_channels_and_skips_recent_purchases(
    db: Database, clock: FrozenClock
) -> None:
    net = make_network(db, stock={"bastille": {"SHOE-42": 10, "SOCKS": 10, "CAP": 10}})
    zoe = customer(db, "zoe@example.com")
    till_sale(db, "T-1", ["SHOE-42", "SOCKS"])
    till_sale(db, "T-2", ["SHOE-42", "CAP"])
    place(db, net, ["SHOE-42"], channel="app", who=zoe)  # online...
    till_sale(db, "T-3", ["SOCKS"], who=zoe)  # ...and in store
    drain(db)
    with db.read() as session:
        offers = views.for_customer(session, zoe, now=clock.now())
    assert sorted(offers.based_on) == ["SHOE-42", "SOCKS"]
    assert [s.sku for s in offers.items] == ["CAP"]
    assert offers.excluded == ["SHOE-42", "SOCKS"]  # bought within the window
