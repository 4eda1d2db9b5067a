"""Associate: the endless aisle (stock in every store and warehouse, ordered for the customer)
and the order page every desk links to."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from omnicanal.catalog.views import get_variant, list_variants
from omnicanal.console.queries import stock_everywhere, stores
from omnicanal.console.web import PostedForm, StorePage, url
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.orders.views import order_views, timeline
from omnicanal.shared.errors import DomainError

router = APIRouter()
STORE_CHANNEL = "pos"


@router.get("/aisle")
def search(page: StorePage, q: str = "") -> Response:
    query = q.strip()
    found = []
    if query:
        with page.db.read() as session:
            by_sku = list_variants(session, sku=query.upper(), limit=20).items
            found = by_sku or list_variants(session, q=query, limit=20).items
    return page.render("store/aisle.html", q=query, found=found)


@router.get("/aisle/{sku}")
def sku_page(page: StorePage, sku: str) -> Response:
    with page.db.read() as session:
        variant = get_variant(session, sku)
        stock = stock_everywhere(session, sku)
        pickup_stores = [s for s in stores(session) if "pickup" in (s.capabilities or [])]
    return page.render(
        "store/sku.html",
        variant=variant,
        stock=stock,
        pickup_stores=pickup_stores,
        here=page.store_id,
        form={},
    )


@router.post("/aisle/{sku}/order")
def order_for_customer(page: StorePage, form: PostedForm, sku: str) -> Response:
    """Buy in this store, delivered at home (endless aisle) or collected in another store."""
    assert page.user is not None
    pickup = form.get("method") == "pickup"
    contact = {k: v for k, v in (("email", form.get("email")), ("phone", form.get("phone"))) if v}
    address = None
    if not pickup:
        address = {
            "name": form.get("name"),
            "line1": form.get("line1"),
            "postcode": form.get("postcode"),
            "city": form.get("city"),
            "country": "FR",
        }
    group = orders.GroupRequest(
        method=Method.CLICK_AND_COLLECT if pickup else Method.ENDLESS_AISLE,
        lines=[orders.LineRequest(sku, form.number("quantity", 1))],
        location_id=(form.get("pickup_store") or None) if pickup else None,
    )
    try:
        with page.db.uow() as uow:
            placed = orders.place_order(
                uow,
                orders.OrderRequest(
                    channel=STORE_CHANNEL,
                    currency="EUR",
                    groups=[group],
                    store_id=page.store_id,
                    contact=contact,
                    shipping_address=address,
                    locale=page.lang,
                    actor=page.user.id,
                ),
            )
            order_id = placed.order.id
    except DomainError as exc:
        return page.redirect(url(f"/aisle/{sku}"), error=exc.detail)
    return page.redirect(url(f"/orders/{order_id}"), flash=page.t("aisle.placed", order=order_id))


@router.get("/orders/{order_id}")
def order_page(page: StorePage, order_id: str) -> Response:
    """Any order of any channel (history is shared); acting on it stays with its store."""
    with page.db.read() as session:
        order = orders.get_order(session, order_id)
        view = order_views(session, [order], locale=page.lang)[0]
        events = timeline(session, order_id)
    return page.render("store/order.html", order=view, events=events)
