"""J8 never oversell, through orders: channels race for the last units with real threads."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from omnicanal.orders import service
from omnicanal.orders.model import Method
from omnicanal.orders.tables import OrderLineRow, OrderRow
from omnicanal.shared.errors import Conflict
from omnicanal.storage.database import Database
from tests.inventory_checks import assert_ledger_equals_levels, level_of
from tests.order_factories import make_network

CHANNELS = ["web", "app", "pos", "callcenter", "marketplace"]


def test_j8_channels_racing_for_the_last_ten_units_sell_exactly_ten(db: Database) -> None:
    net = make_network(db, {"rivoli": {"SHOE-42": 10}, "bastille": {}, "lyon": {}, "warehouse": {}})
    n = 24
    barrier = threading.Barrier(n)
    sold: list[int] = []
    refused: list[int] = []
    errors: list[BaseException] = []

    def buyer(i: int) -> None:
        channel = CHANNELS[i % len(CHANNELS)]
        method = Method.CLICK_AND_COLLECT if i % 2 else Method.SHIP_FROM_STORE
        request = service.OrderRequest(
            channel=channel,
            currency="EUR",
            store_id=net.rivoli if channel == "pos" else None,
            shipping_address={
                "name": "x",
                "line1": "y",
                "postcode": "75001",
                "city": "Paris",
                "country": "FR",
            },
            groups=[
                service.GroupRequest(
                    method=method,
                    lines=[service.LineRequest("SHOE-42", 1)],
                    location_id=net.rivoli,
                )
            ],
        )
        barrier.wait()
        try:
            while True:  # each buyer keeps buying until refused
                with db.uow() as uow:
                    service.place_order(uow, request)
                sold.append(i)
        except Conflict:
            refused.append(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert errors == []
    assert len(sold) == 10
    assert len(refused) == n
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(OrderRow)) == 10
        assert session.scalar(select(func.sum(OrderLineRow.quantity))) == 10
    level = level_of(db, "SHOE-42", net.rivoli)
    assert (level.on_hand, level.committed) == (10, 10)
    assert_ledger_equals_levels(db)
