"""Catalogue through the HTTP API: products, variants, prices, search, scopes, bad input."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.events.tables import OutboxEventRow
from omnicanal.storage.database import Database
from tests.conftest import MakeKey

GTIN_A = "4006381333931"  # valid EAN-13
GTIN_B = "73513537"  # valid EAN-8


def shoe(sku: str = "RUN2-42", gtin: str | None = GTIN_A, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Runner 2 trail shoe",
        "brand": "Trailco",
        "category": "shoes/trail",
        "images": ["https://cdn.example.com/run2.jpg"],
        "variants": [{"sku": sku, "gtin": gtin, "attributes": {"size": "42", "colour": "black"}}],
        **extra,
    }


def counts(db: Database) -> tuple[int, int, int, int]:
    with db.read() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (ProductRow, VariantRow, BasePriceRow, OutboxEventRow)
        )


def test_create_then_read_a_product_and_its_variant(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    created = client.post("/v1/products", json=shoe(), headers=admin)
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["id"].startswith("prd_")
    assert product["variants"][0]["sku"] == "RUN2-42"
    assert product["variants"][0]["title"] == "Runner 2 trail shoe - 42 / black"
    again = client.get(f"/v1/products/{product['id']}", headers=admin)
    assert again.json() == product
    with db.read() as s:
        types = list(s.scalars(select(OutboxEventRow.type).order_by(OutboxEventRow.seq)))
    assert types == ["catalog.product.created", "catalog.variant.created"]


def test_variant_detail_has_product_summary_and_prices(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/v1/products", json=shoe(), headers=admin)
    put = client.put("/v1/prices/RUN2-42/EUR", json={"amount": "89.90"}, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["amount"] == "89.90"
    detail = client.get("/v1/variants/RUN2-42", headers=admin).json()
    assert detail["product"]["title"] == "Runner 2 trail shoe"
    assert detail["prices"] == [
        {
            "sku": "RUN2-42",
            "currency": "EUR",
            "amount": "89.90",
            "updated_at": put.json()["updated_at"],
        }
    ]


def test_duplicate_sku_or_gtin_is_409_naming_it_and_changes_nothing(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    first = client.post("/v1/products", json=shoe(), headers=admin).json()
    before = counts(db)
    dup_sku = client.post("/v1/products", json=shoe(gtin=GTIN_B), headers=admin)
    assert dup_sku.status_code == 409
    assert dup_sku.headers["content-type"] == "application/problem+json"
    body = dup_sku.json()
    assert body["sku"] == "RUN2-42"
    assert body["product_id"] == first["id"]
    assert body["field"] == "variants[0].sku"
    dup_gtin = client.post("/v1/products", json=shoe(sku="OTHER"), headers=admin)
    assert dup_gtin.status_code == 409
    assert dup_gtin.json()["gtin"] == GTIN_A
    assert dup_gtin.json()["sku"] == "RUN2-42"
    added = client.post(
        f"/v1/products/{first['id']}/variants", json={"sku": "RUN2-42"}, headers=admin
    )
    assert added.status_code == 409
    assert counts(db) == before


def test_bad_product_input_is_422_naming_the_field_and_changes_nothing(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    cases = [
        (shoe(gtin="4006381333932"), "variants[0].gtin"),
        (shoe(sku="bad sku"), "variants[0].sku"),
        ({**shoe(), "title": " "}, "title"),
        ({**shoe(), "images": ["file:///etc/passwd"]}, "images[0]"),
        ({**shoe(), "assortment": "everywhere"}, "assortment"),
        ({**shoe(), "attributes": {"size": 42}}, "attributes.size"),
    ]
    for payload, field in cases:
        response = client.post("/v1/products", json=payload, headers=admin)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body.get("field") == field or body["errors"][0]["field"] == field, body
    assert counts(db) == (0, 0, 0, 0)


def test_web_key_reads_but_cannot_write(
    client: TestClient, admin: dict[str, str], make_key: MakeKey, db: Database
) -> None:
    web = make_key("web")
    product = client.post("/v1/products", json=shoe(), headers=admin).json()
    before = counts(db)
    assert client.get("/v1/products", headers=web).status_code == 200
    for method, path, body in [
        ("POST", "/v1/products", shoe(sku="X1", gtin=None)),
        ("PATCH", f"/v1/products/{product['id']}", {"title": "Hacked"}),
        ("POST", f"/v1/products/{product['id']}/variants", {"sku": "X2"}),
        ("PATCH", "/v1/variants/RUN2-42", {"title": "Hacked"}),
        ("PUT", "/v1/prices/RUN2-42/EUR", {"amount": "0.01"}),
    ]:
        response = client.request(method, path, json=body, headers=web)
        assert response.status_code == 403, path
        assert response.json()["required_scope"] == "catalog:write"
    assert counts(db) == before
    assert client.get("/v1/products", headers=make_key("web", scopes=[])).status_code == 403


def test_unknown_product_and_sku_are_404(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get("/v1/products/prd_NOPE", headers=admin).status_code == 404
    missing = client.get("/v1/variants/NOPE", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["sku"] == "NOPE"
    price = client.put("/v1/prices/NOPE/EUR", json={"amount": "1.00"}, headers=admin)
    assert price.status_code == 404
    assert price.json()["field"] == "sku"


def test_patch_product_and_variant_emit_events_and_keep_the_sku(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    product = client.post("/v1/products", json=shoe(), headers=admin).json()
    patched = client.patch(
        f"/v1/products/{product['id']}",
        json={"title": "Runner 3", "brand": None, "assortment": "online_only"},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["brand"] is None
    assert patched.json()["assortment"] == "online_only"
    variant = client.patch(
        "/v1/variants/RUN2-42", json={"gtin": GTIN_B, "status": "archived"}, headers=admin
    )
    assert variant.status_code == 200, variant.text
    assert variant.json()["gtin"] == GTIN_B
    assert variant.json()["product"]["title"] == "Runner 3"
    immutable = client.patch("/v1/variants/RUN2-42", json={"sku": "RUN3-42"}, headers=admin)
    assert immutable.status_code == 422
    assert immutable.json()["field"] == "sku"
    same = client.patch(f"/v1/products/{product['id']}", json={"title": "Runner 3"}, headers=admin)
    assert same.status_code == 200
    with db.read() as s:
        rows = s.execute(
            select(OutboxEventRow.type, OutboxEventRow.data).order_by(OutboxEventRow.seq)
        )
        events = [(t, d) for t, d in rows]
    assert [t for t, _ in events] == [
        "catalog.product.created",
        "catalog.variant.created",
        "catalog.product.updated",
        "catalog.variant.updated",
    ]  # the no-op PATCH emitted nothing
    assert sorted(events[2][1]["changed"]) == ["assortment", "brand", "title"]


def test_prices_are_decimal_strings_and_floats_are_refused(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    client.post("/v1/products", json=shoe(), headers=admin)
    first = client.put("/v1/prices/RUN2-42/eur", json={"amount": "19.90"}, headers=admin)
    assert first.json() | {"updated_at": None} == {
        "sku": "RUN2-42",
        "currency": "EUR",
        "amount": "19.90",
        "previous_amount": None,
        "changed": True,
        "updated_at": None,
    }
    before = counts(db)
    for body, field in [
        ({"amount": 19.99}, "amount"),
        ({"amount": "19.999"}, "amount"),
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"price": "1.00"}, "amount"),
    ]:
        response = client.put("/v1/prices/RUN2-42/EUR", json=body, headers=admin)
        assert response.status_code == 422, body
        problem = response.json()
        assert problem.get("field") == field or problem["errors"][0]["field"] == field
    bad_currency = client.put("/v1/prices/RUN2-42/XXX", json={"amount": "1"}, headers=admin)
    assert bad_currency.status_code == 422
    assert bad_currency.json()["field"] == "currency"
    assert counts(db) == before
    jpy = client.put("/v1/prices/RUN2-42/JPY", json={"amount": "2500"}, headers=admin)
    assert jpy.json()["amount"] == "2500"
    second = client.put("/v1/prices/RUN2-42/EUR", json={"amount": "17.50"}, headers=admin)
    assert second.json()["previous_amount"] == "19.90"
    with db.read() as s:
        changes = s.scalars(
            select(OutboxEventRow.data)
            .where(OutboxEventRow.type == "catalog.price.changed")
            .order_by(OutboxEventRow.seq)
        ).all()
    assert changes[-1] == {
        "sku": "RUN2-42",
        "currency": "EUR",
        "old_amount": "19.90",
        "new_amount": "17.50",
    }
    listed = client.get("/v1/prices", params={"sku": "RUN2-42"}, headers=admin).json()
    assert [(p["currency"], p["amount"]) for p in listed["data"]] == [
        ("EUR", "17.50"),
        ("JPY", "2500"),
    ]


def _seed(client: TestClient, admin: dict[str, str], n: int) -> None:
    for i in range(n):
        body = {
            "title": f"Tee {i:03d}" if i % 2 else f"Sock {i:03d}",
            "brand": "Acme" if i % 3 == 0 else "Zeta",
            "category": "tops" if i % 2 else "socks",
            "assortment": "store_only" if i % 5 == 0 else "omnichannel",
            "variants": [
                {"sku": f"SKU-{i:03d}-S", "attributes": {"size": "S"}},
                {"sku": f"SKU-{i:03d}-M", "attributes": {"size": "M"}},
            ],
        }
        assert client.post("/v1/products", json=body, headers=admin).status_code == 201


def _walk(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, params=query, headers=headers)
        assert page.status_code == 200, page.text
        items.extend(page.json()["data"])
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return [pages, *items]


def test_cursor_walk_over_products_and_variants_has_no_gaps_or_duplicates(
    client: TestClient, admin: dict[str, str]
) -> None:
    _seed(client, admin, 23)
    pages, *products = _walk(client, admin, "/v1/products", limit=5)
    assert pages == 5
    ids = [p["id"] for p in products]
    assert len(ids) == len(set(ids)) == 23
    assert ids == sorted(ids)
    pages, *variants = _walk(client, admin, "/v1/variants", limit=7)
    skus = [v["sku"] for v in variants]
    assert skus == sorted(skus)
    assert len(set(skus)) == 46
    assert pages == 7
    _, *filtered = _walk(client, admin, "/v1/products", limit=2, q="TEE", assortment="omnichannel")
    assert all("Tee" in p["title"] and p["assortment"] == "omnichannel" for p in filtered)
    assert len(filtered) == len([i for i in range(23) if i % 2 and i % 5])


def test_searches(client: TestClient, admin: dict[str, str]) -> None:
    _seed(client, admin, 12)
    client.post("/v1/products", json=shoe(), headers=admin)

    def find(path: str, **params: Any) -> list[Any]:
        response = client.get(path, params=params, headers=admin)
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    assert [p["title"] for p in find("/v1/products", gtin=GTIN_A)] == ["Runner 2 trail shoe"]
    assert [p["title"] for p in find("/v1/products", sku="SKU-003-M")] == ["Tee 003"]
    assert len(find("/v1/products", q="acme")) == 4  # brand, any case
    assert len(find("/v1/products", category="socks")) == 6
    assert len(find("/v1/products", status="archived")) == 0
    assert [v["sku"] for v in find("/v1/variants", gtin=GTIN_A)] == ["RUN2-42"]  # a scan
    assert [v["sku"] for v in find("/v1/variants", sku="SKU-01")] == [
        "SKU-010-M",
        "SKU-010-S",
        "SKU-011-M",
        "SKU-011-S",
    ]
    assert find("/v1/variants", sku="SKU_0") == []  # _ is literal, not a wildcard
    assert {v["sku"] for v in find("/v1/variants", q="trail")} == {"RUN2-42"}
    assert client.get("/v1/products", params={"limit": 500}, headers=admin).status_code == 422
    bad = client.get("/v1/products", params={"cursor": "garbage"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["field"] == "cursor"
