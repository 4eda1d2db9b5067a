"""The store desks through the console: a customer found by phone (profile, history, web cart),
J1's pickup from the queue to the hand-over, the endless aisle, and J4's return at the desk.
Orders come from the API as a channel would place them; the console acts through the services."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.loyalty.service import adjust, open_account
from omnicanal.storage.database import Database
from tests.browser.console_world import ConsoleShop, make_console_shop, post_form, sign_in
from tests.conftest import MakeKey
from tests.return_factories import delivered_order


@pytest.fixture
def shop(db: Database) -> ConsoleShop:
    return make_console_shop(db)


def _post(client: TestClient, headers: dict[str, str], path: str, body: Any, key: str) -> Any:
    answer = client.post(path, json=body, headers={**headers, "Idempotency-Key": key})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def _flash(client: TestClient, location: str) -> str:
    page = client.get(location)
    found = re.search(r'<p class="flash (?:ok|error)"[^>]*>([^<]*)</p>', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


def pickup_order(client: TestClient, make_key: MakeKey, store: str, key: str = "cc-1") -> Any:
    return _post(
        client,
        make_key("web"),
        "/v1/orders",
        {
            "method": "click_and_collect",
            "location_id": store,
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
            "contact": {"email": "zoe@example.fr"},
        },
        key,
    )


def stock_at(client: TestClient, admin: dict[str, str], location: str, sku: str) -> Any:
    levels = client.get(f"/v1/stock/{sku}", headers=admin).json()["locations"]
    return next(level for level in levels if level["location_id"] == location)


def test_an_associate_finds_a_customer_by_phone_and_adds_to_the_web_cart(
    client: TestClient, make_key: MakeKey, shop: ConsoleShop, db: Database
) -> None:
    app = make_key("app")
    zoe = _post(
        client,
        app,
        "/v1/customers/identify",
        {
            "identifiers": [
                {"kind": "email", "value": "zoe@example.fr"},
                {"kind": "phone", "value": "06 12 34 56 78"},
            ],
            "attributes": {"given_name": "Zoé", "family_name": "Martin"},
        },
        "id-1",
    )["profile_id"]
    cart = _post(client, app, "/v1/carts", {"customer_id": zoe}, "cart-1")
    _post(client, app, f"/v1/carts/{cart['id']}/lines", {"sku": "SHOE-42"}, "line-1")
    order = _post(
        client,
        make_key("web"),
        "/v1/orders",
        {
            "method": "click_and_collect",
            "location_id": shop.net.rivoli,
            "lines": [{"sku": "SOCKS", "quantity": 1}],
            "customer_id": zoe,
        },
        "web-1",
    )
    sign_in(client, shop.rivoli)

    for query in ("06 12 34 56 78", "+33612345678", "ZOE@example.fr", "Martin"):
        found = client.get("/console/customers", params={"q": query})
        assert found.status_code == 200
        assert f'href="/console/customers/{zoe}"' in found.text, query
        assert "Zoé" in found.text
    nobody = client.get("/console/customers", params={"q": "0699999999"})
    assert "No customer matches." in nobody.text

    with db.uow() as uow:
        account = open_account(uow, customer_id=zoe)
        adjust(
            uow,
            account_id=account.id,
            points=120,
            reason="welcome",
            reference="welcome-zoe",
            channel="admin",
        )
    profile = client.get(f"/console/customers/{zoe}")
    assert profile.status_code == 200
    assert '<dd data-testid="points">120</dd>' in profile.text  # earned anywhere, seen here
    assert order["id"] in profile.text
    assert "Confirmed" in profile.text  # the status in the orders context's own words
    assert "SHOE-42" in profile.text  # the web cart

    added = post_form(
        client,
        f"/console/customers/{zoe}",
        f"/console/customers/{zoe}/cart/lines",
        {"sku": "SOCKS", "quantity": "2"},
    )
    assert added.status_code == 303
    assert _flash(client, added.headers["location"]) == "Added to the customer's cart."
    on_app = client.get(f"/v1/carts/{cart['id']}", headers=app).json()
    assert {line["sku"]: line["quantity"] for line in on_app["lines"]} == {
        "SHOE-42": 1,
        "SOCKS": 2,
    }

    sent = post_form(
        client, f"/console/customers/{zoe}", f"/console/customers/{zoe}/cart/handoff", {}
    )
    message = _flash(client, sent.headers["location"])
    code = re.search(r"code (\S+)\.$", message)
    assert code, message
    claimed = client.post(
        f"/v1/carts/handoffs/{code.group(1)}/claim",
        json={"customer_id": zoe},
        headers={**app, "Idempotency-Key": "claim-1"},
    )
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["id"] == cart["id"]


def test_j1_the_associate_serves_a_pickup_from_the_queue(
    client: TestClient, make_key: MakeKey, shop: ConsoleShop, admin: dict[str, str]
) -> None:
    order = pickup_order(client, make_key, shop.net.rivoli)
    group = order["groups"][0]["id"]
    before = stock_at(client, admin, shop.net.rivoli, "SHOE-42")
    sign_in(client, shop.rivoli)

    queue = client.get("/console/pickups")
    assert f'data-group="{group}"' in queue.text
    assert "To prepare (1)" in queue.text

    picking = post_form(client, "/console/pickups", f"/console/pickups/{group}/picking", {})
    assert _flash(client, picking.headers["location"]) == f"Order {order['id']}: Being prepared."
    ready = post_form(client, "/console/pickups", f"/console/pickups/{group}/ready", {})
    assert (
        _flash(client, ready.headers["location"])
        == f"Order {order['id']}: Ready for pickup at PAR-RIVOLI."
    )
    assert "Waiting at the counter (1)" in client.get("/console/pickups").text
    # every channel reads the same words
    web_view = client.get(f"/v1/orders/{order['id']}", headers=make_key("web")).json()
    assert web_view["status_text"] == "Ready for pickup at PAR-RIVOLI"
    code = client.get(f"/v1/orders/{order['id']}", headers=admin).json()["groups"][0]["pickup_code"]
    wrong = "000000" if code != "000000" else "111111"

    refused = post_form(
        client, "/console/pickups", f"/console/pickups/{group}/hand-over", {"pickup_code": wrong}
    )
    assert "Wrong pickup code" in _flash(client, refused.headers["location"])
    handed = post_form(
        client, "/console/pickups", f"/console/pickups/{group}/hand-over", {"pickup_code": code}
    )
    assert _flash(client, handed.headers["location"]) == f"Handed over: order {order['id']}."

    after = client.get(f"/v1/orders/{order['id']}", headers=make_key("web")).json()
    assert (after["status"], after["status_text"]) == ("completed", "Collected")
    stock = stock_at(client, admin, shop.net.rivoli, "SHOE-42")
    assert stock["on_hand"] == before["on_hand"] - 1
    assert stock["available_to_promise"] == before["available_to_promise"]  # it was held
    assert "Waiting at the counter (0)" in client.get("/console/pickups").text


def test_an_uncollected_pickup_is_released_as_a_no_show(
    client: TestClient, make_key: MakeKey, shop: ConsoleShop, admin: dict[str, str]
) -> None:
    before = stock_at(client, admin, shop.net.rivoli, "SHOE-42")["available_to_promise"]
    order = pickup_order(client, make_key, shop.net.rivoli)
    group = order["groups"][0]["id"]
    held = stock_at(client, admin, shop.net.rivoli, "SHOE-42")["available_to_promise"]
    assert held == before - 1
    sign_in(client, shop.rivoli)
    post_form(client, "/console/pickups", f"/console/pickups/{group}/ready", {})
    released = post_form(client, "/console/pickups", f"/console/pickups/{group}/no-show", {})
    assert "Not collected — released" in _flash(client, released.headers["location"])
    after = stock_at(client, admin, shop.net.rivoli, "SHOE-42")["available_to_promise"]
    assert after == before  # back on sale


def test_an_associate_of_another_store_cannot_see_or_act_on_the_pickup(
    client: TestClient, make_key: MakeKey, shop: ConsoleShop, admin: dict[str, str]
) -> None:
    order = pickup_order(client, make_key, shop.net.rivoli)
    group = order["groups"][0]["id"]
    sign_in(client, shop.bastille)
    assert f'data-group="{group}"' not in client.get("/console/pickups").text
    assert client.get(f"/console/pickups/{group}").status_code == 403
    for action in ("picking", "ready", "no-show", "hand-over"):
        refused = post_form(
            client, "/console/pickups", f"/console/pickups/{group}/{action}", {"pickup_code": "1"}
        )
        assert refused.status_code == 403, action
    untouched = client.get(f"/v1/orders/{order['id']}", headers=admin).json()
    assert untouched["groups"][0]["status"] == "allocated"


def test_the_endless_aisle_shows_every_location_and_orders_for_home_delivery(
    client: TestClient, make_key: MakeKey, shop: ConsoleShop, admin: dict[str, str]
) -> None:
    sign_in(client, shop.rivoli)
    found = client.get("/console/aisle", params={"q": "shoe"})
    assert 'href="/console/aisle/SHOE-42"' in found.text
    page = client.get("/console/aisle/SHOE-42")
    for name in ("PAR-RIVOLI (this store)", "PAR-BASTILLE", "LYO-PARTDIEU", "WH-SARAN"):
        assert name in page.text
    placed = post_form(
        client,
        "/console/aisle/SHOE-42",
        "/console/aisle/SHOE-42/order",
        {
            "method": "home",
            "quantity": "1",
            "email": "zoe@example.fr",
            "name": "Zoé Martin",
            "line1": "1 rue de Rivoli",
            "postcode": "75001",
            "city": "Paris",
        },
    )
    assert placed.status_code == 303, placed.text
    order_id = placed.headers["location"].rsplit("/", 1)[-1]
    order = client.get(f"/v1/orders/{order_id}", headers=admin).json()
    assert (order["channel"], order["store_id"]) == ("pos", shop.net.rivoli)
    assert order["groups"][0]["method"] == "endless_aisle"
    assert order["status_text"] in client.get(placed.headers["location"]).text


def test_the_endless_aisle_orders_for_pickup_in_another_store(
    client: TestClient, shop: ConsoleShop, admin: dict[str, str]
) -> None:
    sign_in(client, shop.rivoli)
    placed = post_form(
        client,
        "/console/aisle/SHOE-42",
        "/console/aisle/SHOE-42/order",
        {"method": "pickup", "quantity": "1", "pickup_store": shop.net.lyon, "phone": "0612345678"},
    )
    order_id = placed.headers["location"].rsplit("/", 1)[-1]
    order = client.get(f"/v1/orders/{order_id}", headers=admin).json()
    assert order["groups"][0]["location_id"] == shop.net.lyon
    # more than there is: the service's refusal is shown, nothing is ordered
    refused = post_form(
        client,
        "/console/aisle/SHOE-42",
        "/console/aisle/SHOE-42/order",
        {"method": "pickup", "quantity": "50", "pickup_store": shop.net.lyon},
    )
    assert refused.headers["location"] == "/console/aisle/SHOE-42"
    assert _flash(client, refused.headers["location"])


def test_j4_an_online_order_is_returned_at_the_desk_and_restocked_here(
    client: TestClient, db: Database, shop: ConsoleShop, admin: dict[str, str]
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    before = stock_at(client, admin, shop.net.rivoli, "RUN-43")  # RUN-42 has no row at Rivoli
    sign_in(client, shop.rivoli)
    desk = client.get("/console/returns", params={"order": order_id})
    assert desk.status_code == 200
    line_id = re.search(r'name="line_id" value="([^"]+)"', desk.text)
    assert line_id
    assert "RUN-43" in desk.text  # another size in this store, as an exchange idea
    taken = post_form(
        client,
        f"/console/returns?order={order_id}",
        "/console/returns",
        {
            "order_id": order_id,
            "line_id": line_id.group(1),
            f"quantity_{line_id.group(1)}": "1",
            f"reason_{line_id.group(1)}": "too_small",
            f"condition_{line_id.group(1)}": "sellable",
            "outcome": "refund",
        },
    )
    assert taken.status_code == 303
    assert "completed" in _flash(client, taken.headers["location"])
    page = client.get(taken.headers["location"])
    assert "60.00 EUR" in page.text
    restocked = stock_at(client, admin, shop.net.rivoli, "RUN-42")
    assert restocked["on_hand"] == 1  # back at the store that received it
    assert stock_at(client, admin, shop.net.rivoli, "RUN-43") == before


def test_a_return_with_nothing_chosen_is_refused_with_a_message(
    client: TestClient, db: Database, shop: ConsoleShop
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    sign_in(client, shop.rivoli)
    refused = post_form(
        client,
        f"/console/returns?order={order_id}",
        "/console/returns",
        {"order_id": order_id, "outcome": "refund"},
    )
    assert _flash(client, refused.headers["location"]) == "Give a quantity for at least one line."


def test_j4_the_customer_leaves_with_another_size(
    client: TestClient, db: Database, shop: ConsoleShop, admin: dict[str, str]
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    sign_in(client, shop.rivoli)
    desk = client.get("/console/returns", params={"order": order_id})
    line = re.search(r'name="line_id" value="([^"]+)"', desk.text)
    assert line
    taken = post_form(
        client,
        f"/console/returns?order={order_id}",
        "/console/returns",
        {
            "order_id": order_id,
            "line_id": line.group(1),
            f"quantity_{line.group(1)}": "1",
            f"reason_{line.group(1)}": "too_small",
            f"condition_{line.group(1)}": "sellable",
            "outcome": "exchange",
            "exchange_sku": "RUN-43",
            "exchange_quantity": "1",
        },
    )
    page = client.get(taken.headers["location"])
    exchange = re.search(r'href="/console/orders/(ord_\w+)"', page.text)
    assert exchange, page.text
    swapped = client.get(f"/v1/orders/{exchange.group(1)}", headers=admin).json()
    assert [line["sku"] for line in swapped["groups"][0]["lines"]] == ["RUN-43"]
    assert stock_at(client, admin, shop.net.rivoli, "RUN-42")["on_hand"] == 1
