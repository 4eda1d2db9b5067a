"""A shop for return tests: the order network plus a running shoe in three sizes and a
final-sale tee, and orders placed, shipped and delivered through the orders services."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.inventory import service as inventory
from omnicanal.inventory.service import Line
from omnicanal.orders import fulfilment
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.orders.tables import FulfilmentGroupRow
from omnicanal.storage.database import Database
from tests.inventory_factories import make_skus
from tests.order_factories import Network, make_network

RETURN_PRICES = {"RUN-41": 6000, "RUN-42": 6000, "RUN-43": 6000, "TEE-FINAL": 1500}
PARIS = {
    "name": "Léa Martin",
    "line1": "1 rue de Rivoli",
    "postcode": "75001",
    "city": "Paris",
    "country": "FR",
    "latitude": 48.8566,
    "longitude": 2.3522,
}


def make_shop(db: Database) -> Network:
    net = make_network(db)
    make_skus(db, "RUN-41", "RUN-42", "RUN-43")
    make_skus(db, "TEE-FINAL")
    now = db.clock.now()
    with db.uow() as uow:
        session = uow.session
        for sku, size in (("RUN-41", "41"), ("RUN-42", "42"), ("RUN-43", "43")):
            variant = session.scalars(select(VariantRow).where(VariantRow.sku == sku)).one()
            variant.attributes = {"size": size, "colour": "blue"}
        tee = session.scalars(select(VariantRow).where(VariantRow.sku == "TEE-FINAL")).one()
        product = session.get(ProductRow, tee.product_id)
        assert product is not None
        product.attributes = {"final_sale": "true"}
        for sku, minor in RETURN_PRICES.items():
            session.add(BasePriceRow(sku=sku, currency="EUR", amount_minor=minor, updated_at=now))
    with db.uow() as uow:
        inventory.receive(
            uow,
            location_id=net.warehouse,
            lines=[Line("RUN-42", 10), Line("RUN-43", 5), Line("TEE-FINAL", 5)],
        )
        inventory.receive(uow, location_id=net.rivoli, lines=[Line("RUN-43", 2)])
    return net


def delivered_order(
    db: Database,
    lines: Sequence[tuple[str, int]],
    *,
    customer_id: str | None = None,
    channel: str = "web",
) -> str:
    """A web order delivered at home from the warehouse, paid through adyen."""
    with db.uow() as uow:
        placed = orders.place_order(
            uow,
            orders.OrderRequest(
                channel=channel,
                currency="EUR",
                groups=[
                    orders.GroupRequest(
                        method=Method.HOME_DELIVERY,
                        lines=[orders.LineRequest(sku, qty) for sku, qty in lines],
                    )
                ],
                customer_id=customer_id,
                shipping_address=PARIS,
                payment=orders.PaymentRequest("captured", "adyen", "psp_web_1"),
            ),
        )
        order_id = placed.order.id
    with db.uow() as uow:
        group_ids = list(
            uow.session.scalars(
                select(FulfilmentGroupRow.id).where(FulfilmentGroupRow.order_id == order_id)
            )
        )
    for group_id in group_ids:
        with db.uow() as uow:
            fulfilment.ship(uow, group_id)
        with db.uow() as uow:
            fulfilment.deliver(uow, group_id)
    return order_id
