"""J3 The cart follows the customer, end to end through HTTP: add on the desktop, log in, finish
on the app; the associate finds the cart by phone number and adds an accessory; a till's cart is
handed off to the customer's phone. Then bad input, idempotent retries, scopes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnicanal.events.dispatch import drain
from omnicanal.events.tables import OutboxEventRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.inventory_factories import make_location

PROBLEM = "application/problem+json"


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str], db: Database) -> dict[str, str]:
    """A store with stock, trail shoes sold everywhere, socks (the accessory), store-only laces."""
    store = make_location(db, "PAR-RIVOLI")
    products = [
        ("Trail shoe", "omnichannel", "SHOE-42", "89.99"),
        ("Merino socks", "omnichannel", "SOCKS-M", "12.99"),
        ("Spare laces", "store_only", "LACES", "3.50"),
    ]
    for title, assortment, sku, price in products:
        ok(
            client.post(
                "/v1/products",
                json={"title": title, "assortment": assortment, "variants": [{"sku": sku}]},
                headers=admin,
            ),
            201,
        )
        ok(client.put(f"/v1/prices/{sku}/EUR", json={"amount": price}, headers=admin))
    ok(
        client.post(
            "/v1/stock/receipts",
            json={
                "location_id": store,
                "lines": [
                    {"sku": "SHOE-42", "quantity": 4},
                    {"sku": "SOCKS-M", "quantity": 20},
                    {"sku": "LACES", "quantity": 10},
                ],
            },
            headers=admin,
        )
    )
    return {"store": store}


def test_j3_the_cart_follows_the_customer_from_desktop_to_app_to_the_store(
    client: TestClient, make_key: MakeKey, admin: dict[str, str], shop: dict[str, str], db: Database
) -> None:
    web, app = make_key("web"), make_key("app")
    till = make_key("pos", store_id=shop["store"])

    # on the desktop, not signed in
    cart = ok(client.post("/v1/carts", json={}, headers=web), 201)
    assert cart["customer_id"] is None
    assert cart["anonymous_token"]
    cart = ok(client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SHOE-42"}, headers=web))
    assert cart["subtotal"] == {"amount": "89.99", "currency": "EUR"}
    [shoe] = cart["lines"]
    assert (shoe["added_channel"], shoe["hold"]) == ("web", None)  # web carts hold nothing

    # she signs in: the cart becomes hers
    cart = ok(
        client.post(
            f"/v1/carts/{cart['id']}/customer",
            json={
                "identifiers": [
                    {"kind": "email", "value": "Zoe.Martin@example.fr"},
                    {"kind": "phone", "value": "06 12 34 56 78"},
                ]
            },
            headers=web,
        )
    )
    zoe = cart["customer_id"]
    assert zoe.startswith("cus_")
    assert cart["anonymous_token"] is None

    # later, on the app: the same cart
    on_app = ok(client.post("/v1/carts", json={"customer_id": zoe}, headers=idem(app)))
    assert on_app["id"] == cart["id"]
    assert [line["sku"] for line in on_app["lines"]] == ["SHOE-42"]
    on_app = ok(
        client.patch(
            f"/v1/carts/{cart['id']}/lines/{shoe['id']}",
            json={"quantity": 2, "customer_id": zoe},
            headers=app,
        )
    )
    assert on_app["subtotal"]["amount"] == "179.98"

    # in the store: the associate finds it by her phone number and adds the socks
    found = ok(client.get("/v1/carts", params={"phone": "+33612345678"}, headers=till))["data"]
    assert [c["id"] for c in found] == [cart["id"]]
    assert found[0]["customer_id"] == zoe
    in_store = ok(
        client.post(
            f"/v1/carts/{cart['id']}/lines",
            json={"sku": "SOCKS-M", "quantity": 1},
            headers=idem(till),
        )
    )
    socks = next(line for line in in_store["lines"] if line["sku"] == "SOCKS-M")
    assert (socks["added_channel"], socks["added_store_id"]) == ("pos", shop["store"])
    assert socks["hold"]["location_id"] == shop["store"]  # at the till: held on the shelf
    assert socks["hold"]["status"] == "active"
    assert in_store["subtotal"]["amount"] == "192.97"

    # back on the app she sees the accessory, priced at today's price
    ok(client.put("/v1/prices/SOCKS-M/EUR", json={"amount": "9.99"}, headers=admin))
    on_app = ok(client.get(f"/v1/carts/{cart['id']}", headers=app))
    socks = next(line for line in on_app["lines"] if line["sku"] == "SOCKS-M")
    assert socks["unit_price"]["amount"] == "9.99"
    assert socks["price_at_add"]["amount"] == "12.99"
    assert socks["price_changed"] is True
    assert on_app["subtotal"]["amount"] == "189.97"
    assert on_app["item_count"] == 3

    # every change is an event about the cart, saying whose and from where
    drain(db)
    with db.read() as s:
        cart_events = list(
            s.scalars(
                select(OutboxEventRow)
                .where(OutboxEventRow.subject == cart["id"])
                .order_by(OutboxEventRow.seq)
            )
        )
    assert [e.type for e in cart_events] == [
        "carts.cart.created",
        "carts.line.added",
        "carts.cart.attached",
        "carts.line.changed",
        "carts.line.added",
    ]
    assert [e.data["profile_id"] for e in cart_events[2:]] == [zoe, zoe, zoe]
    assert cart_events[-1].data["store_id"] == shop["store"]
    assert all(e.position is not None for e in cart_events)  # published on the feed


def test_j3_at_login_the_desktop_cart_merges_into_the_app_cart(
    client: TestClient, make_key: MakeKey, shop: dict[str, str]
) -> None:
    web, app = make_key("web"), make_key("app")
    zoe = ok(
        client.post(
            "/v1/customers/identify",
            json={"identifiers": [{"kind": "email", "value": "zoe@example.fr"}]},
            headers=idem(app),
        )
    )["profile_id"]
    on_app = ok(client.post("/v1/carts", json={"customer_id": zoe}, headers=idem(app)), 201)
    ok(client.post(f"/v1/carts/{on_app['id']}/lines", json={"sku": "SHOE-42"}, headers=idem(app)))
    desktop = ok(client.post("/v1/carts", json={}, headers=web), 201)
    for sku, quantity in (("SHOE-42", 1), ("SOCKS-M", 3)):
        ok(
            client.post(
                f"/v1/carts/{desktop['id']}/lines",
                json={"sku": sku, "quantity": quantity},
                headers=web,
            )
        )
    merged = ok(
        client.post(f"/v1/carts/{desktop['id']}/customer", json={"customer_id": zoe}, headers=web)
    )
    assert merged["id"] == on_app["id"]
    assert {line["sku"]: line["quantity"] for line in merged["lines"]} == {
        "SHOE-42": 1,  # on both devices: the larger quantity, not 2
        "SOCKS-M": 3,
    }
    old = ok(client.get(f"/v1/carts/{desktop['id']}", headers=web))
    assert (old["id"], old["resolved_from"]) == (on_app["id"], desktop["id"])


def test_j3_a_tills_cart_is_handed_off_to_the_customers_phone(
    client: TestClient, make_key: MakeKey, shop: dict[str, str], clock: FrozenClock
) -> None:
    app = make_key("app")
    till = make_key("pos", store_id=shop["store"])
    at_till = ok(client.post("/v1/carts", json={}, headers=idem(till)), 201)
    assert at_till["store_id"] == shop["store"]
    for sku in ("SHOE-42", "LACES"):  # laces are store-only: the till may sell them
        ok(client.post(f"/v1/carts/{at_till['id']}/lines", json={"sku": sku}, headers=idem(till)))
    handoff = ok(
        client.post(
            f"/v1/carts/{at_till['id']}/handoffs", json={"ttl_minutes": 10}, headers=idem(till)
        ),
        201,
    )
    assert len(handoff["code"]) == 9  # XXXX-XXXX
    assert handoff["code"].replace("-", "") in handoff["link"]
    assert handoff["expires_at"].startswith(
        (clock.now() + timedelta(minutes=10)).date().isoformat()
    )

    leo = ok(
        client.post(
            "/v1/customers/identify",
            json={"identifiers": [{"kind": "phone", "value": "0698765432"}]},
            headers=idem(app),
        )
    )["profile_id"]
    clock.advance(minutes=3)
    on_phone = ok(
        client.post(
            f"/v1/carts/handoffs/{handoff['code'].lower()}/claim",
            json={"customer_id": leo},
            headers=idem(app),
        )
    )
    assert on_phone["id"] == at_till["id"]
    assert on_phone["customer_id"] == leo
    lines = {line["sku"]: line for line in on_phone["lines"]}
    assert lines["LACES"]["added_channel"] == "pos"
    assert lines["LACES"]["sellable_on_channel"] is False  # to be paid for in the store
    assert lines["SHOE-42"]["hold"]["location_id"] == shop["store"]
    mine = ok(client.get("/v1/carts", params={"customer": leo}, headers=app))["data"]
    assert [c["id"] for c in mine] == [at_till["id"]]


# -- bad input: a clear problem, and nothing changed --------------------------------------------
def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}", body
    assert body["detail"]
    return body


def test_bad_input_is_a_problem_and_changes_nothing(
    client: TestClient, make_key: MakeKey, shop: dict[str, str], clock: FrozenClock
) -> None:
    web, app = make_key("web"), make_key("app")
    till = make_key("pos", store_id=shop["store"])
    zoe = ok(
        client.post(
            "/v1/customers/identify",
            json={"identifiers": [{"kind": "email", "value": "zoe@example.fr"}]},
            headers=web,
        )
    )["profile_id"]
    leo = ok(
        client.post(
            "/v1/customers/identify",
            json={"identifiers": [{"kind": "email", "value": "leo@example.fr"}]},
            headers=web,
        )
    )["profile_id"]
    cart = ok(client.post("/v1/carts", json={"customer_id": zoe}, headers=web), 201)
    cart = ok(client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SHOE-42"}, headers=web))
    lines_url = f"/v1/carts/{cart['id']}/lines"

    unknown = _problem(
        client.post(lines_url, json={"sku": "NOPE-1"}, headers=web), 404, "unknown-sku"
    )
    assert unknown["field"] == "sku"
    for quantity in (0, -1, 100, 1.5):
        body = _problem(
            client.post(lines_url, json={"sku": "SHOE-42", "quantity": quantity}, headers=web),
            422,
            "validation-failed",
        )
        assert body["errors"][0]["field"] == "quantity"
    store_only = _problem(
        client.post(lines_url, json={"sku": "LACES"}, headers=web), 422, "not-sold-on-channel"
    )
    assert "store" in store_only["detail"]
    assert store_only["field"] == "sku"
    other = _problem(
        client.post(lines_url, json={"sku": "SOCKS-M", "customer_id": leo}, headers=web),
        403,
        "cart-of-another-customer",
    )
    assert other["cart_id"] == cart["id"]
    _problem(
        client.get(f"/v1/carts/{cart['id']}", params={"customer_id": leo}, headers=web),
        403,
        "cart-of-another-customer",
    )
    _problem(
        client.post(f"/v1/carts/{cart['id']}/customer", json={"customer_id": leo}, headers=web),
        403,
        "cart-of-another-customer",
    )
    _problem(client.get("/v1/carts/crt_nope", headers=web), 404, "cart-not-found")
    _problem(client.post("/v1/carts", json={"currency": "XXX"}, headers=web), 422, "invalid-input")
    _problem(
        client.post("/v1/carts", json={"anonymous_token": "short"}, headers=web),
        422,
        "invalid-input",
    )

    # an expired handoff code
    handoff = ok(
        client.post(
            f"/v1/carts/{cart['id']}/handoffs", json={"ttl_minutes": 5}, headers=idem(till)
        ),
        201,
    )
    clock.advance(minutes=6)
    expired = _problem(
        client.post(
            f"/v1/carts/handoffs/{handoff['code']}/claim",
            json={"customer_id": zoe},
            headers=idem(app),
        ),
        410,
        "handoff-expired",
    )
    assert "send the cart again" in expired["detail"]
    _problem(
        client.post("/v1/carts/handoffs/abc/claim", json={"customer_id": zoe}, headers=idem(app)),
        422,
        "invalid-input",
    )

    after = ok(client.get(f"/v1/carts/{cart['id']}", headers=web))
    assert after["version"] == cart["version"] + 1  # only the handoff touched it
    assert [(x["sku"], x["quantity"]) for x in after["lines"]] == [("SHOE-42", 1)]
    assert after["customer_id"] == zoe


def test_a_retried_add_with_the_same_key_adds_once(
    client: TestClient, make_key: MakeKey, shop: dict[str, str]
) -> None:
    app = make_key("app")
    cart = ok(client.post("/v1/carts", json={}, headers=idem(app)), 201)
    headers = idem(app)
    first = client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SOCKS-M"}, headers=headers)
    again = client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SOCKS-M"}, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    now = ok(client.get(f"/v1/carts/{cart['id']}", headers=app))
    assert [x["quantity"] for x in now["lines"]] == [1]
    _problem(
        client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SOCKS-M"}, headers=app),
        422,
        "idempotency-key-required",
    )


def test_removing_a_line_and_abandoning_give_the_stock_back(
    client: TestClient, make_key: MakeKey, shop: dict[str, str], admin: dict[str, str]
) -> None:
    till = make_key("pos", store_id=shop["store"])
    cart = ok(client.post("/v1/carts", json={}, headers=idem(till)), 201)
    for sku in ("SHOE-42", "SOCKS-M"):
        cart = ok(
            client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": sku}, headers=idem(till))
        )

    def reserved(sku: str) -> int:
        levels = ok(client.get(f"/v1/stock/{sku}", headers=admin))["locations"]
        return sum(level["reserved"] for level in levels)

    assert (reserved("SHOE-42"), reserved("SOCKS-M")) == (1, 1)
    shoe = next(x for x in cart["lines"] if x["sku"] == "SHOE-42")
    cart = ok(client.delete(f"/v1/carts/{cart['id']}/lines/{shoe['id']}", headers=till))
    assert reserved("SHOE-42") == 0
    cart = ok(client.post(f"/v1/carts/{cart['id']}/abandon", headers=idem(till)))
    assert cart["status"] == "abandoned"
    assert reserved("SOCKS-M") == 0
    _problem(
        client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SOCKS-M"}, headers=idem(till)),
        409,
        "cart-closed",
    )


def test_click_and_collect_holds_the_cart_at_the_pickup_store(
    client: TestClient, make_key: MakeKey, shop: dict[str, str], admin: dict[str, str]
) -> None:
    web = make_key("web")
    cart = ok(
        client.post("/v1/carts", json={"pickup_location_id": shop["store"]}, headers=web), 201
    )
    cart = ok(
        client.post(
            f"/v1/carts/{cart['id']}/lines", json={"sku": "SHOE-42", "quantity": 4}, headers=web
        )
    )
    assert cart["lines"][0]["hold"]["quantity"] == 4
    short = _problem(
        client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SHOE-42"}, headers=web),
        409,
        "insufficient-stock",
    )
    assert short["available"] == 4
    cart = ok(client.put(f"/v1/carts/{cart['id']}/pickup", json={"location_id": None}, headers=web))
    assert cart["lines"][0]["hold"] is None  # home delivery: nothing held any more
    stock = ok(client.get("/v1/stock/SHOE-42", headers=admin))["locations"]
    assert [level["reserved"] for level in stock] == [0]


def test_scopes_guard_carts_and_customer_lookups(
    client: TestClient, make_key: MakeKey, shop: dict[str, str]
) -> None:
    marketplace = make_key("marketplace")
    _problem(
        client.get("/v1/carts", params={"customer": "cus_x"}, headers=marketplace),
        403,
        "missing-scope",
    )
    _problem(client.post("/v1/carts", json={}, headers=idem(marketplace)), 403, "missing-scope")
    carts_only = make_key("web", scopes=["carts:read", "carts:write"])
    _problem(
        client.get("/v1/carts", params={"phone": "0612345678"}, headers=carts_only),
        403,
        "missing-scope",
    )
    _problem(client.get("/v1/carts", headers=carts_only), 422, "invalid-input")
    cart = ok(client.post("/v1/carts", json={}, headers=carts_only), 201)
    _problem(
        client.post(
            f"/v1/carts/{cart['id']}/customer",
            json={"identifiers": [{"kind": "email", "value": "a@example.fr"}]},
            headers=carts_only,
        ),
        403,
        "missing-scope",
    )
    found = ok(
        client.get("/v1/carts", params={"token": cart["anonymous_token"]}, headers=carts_only)
    )
    assert [c["id"] for c in found["data"]] == [cart["id"]]
