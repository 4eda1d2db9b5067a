"""CSV import/export over HTTP and through the CLI: all or nothing, round trips."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from omnicanal import settings as settings_module
from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.cli import app as cli
from omnicanal.events.tables import OutboxEventRow
from omnicanal.locations.tables import LocationRow
from omnicanal.storage.database import Database
from tests.conftest import MakeKey, truncate_all

PRODUCTS = (
    "sku,gtin,product_ref,product_title,variant_title,brand,category,description,assortment,"
    "attributes,images\n"
    'RUN2-42,4006381333931,RUN2,Runner 2,,Trailco,shoes,"Light, grippy",omnichannel,'
    "size=42;colour=black,https://cdn.example.com/a.jpg|https://cdn.example.com/b.jpg\n"
    'RUN2-43,,RUN2,Runner 2,Runner 2 - 43,Trailco,shoes,"Light, grippy",omnichannel,'
    "size=43;colour=black,\n"
    "CAP-1,73513537,CAP,Cap,,,hats,,store_only,,\n"
)
PRICES = "sku,currency,amount\nRUN2-42,EUR,89.90\nRUN2-43,EUR,89.90\nCAP-1,JPY,1500\n"
LOCATIONS = (
    "code,name,kind,address_line1,postcode,city,country,latitude,longitude,timezone,"
    "capabilities,daily_order_capacity,opening_hours\n"
    "PAR-RIVOLI,Paris Rivoli,store,1 rue de Rivoli,75001,Paris,FR,48.8606,2.3376,Europe/Paris,"
    'pickup|ship_from_store,40,"mon=09:00-19:00;tue=09:00-12:00,14:00-19:00"\n'
    "WH-NORD,Entrepot Nord,warehouse,,59000,Lille,FR,50.6292,3.0573,,ship,,\n"
)
CSV = {"Content-Type": "text/csv"}


def counts(db: Database) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (ProductRow, VariantRow, BasePriceRow, LocationRow, OutboxEventRow)
        )


def post(client: TestClient, kind: str, text: str, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    response = client.post(f"/v1/imports/{kind}", content=text.encode(), headers={**headers, **CSV})
    return {"status": response.status_code, **response.json()}


def test_good_files_import_and_report_counts(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    report = post(client, "products", PRODUCTS, admin)
    assert report == {
        "status": 200,
        "kind": "products",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "errors": [],
    }
    assert post(client, "prices", PRICES, admin)["created"] == 3
    assert post(client, "locations", LOCATIONS, admin)["created"] == 2
    variant = client.get("/v1/variants/RUN2-42", headers=admin).json()
    assert variant["attributes"] == {"size": "42", "colour": "black"}
    assert variant["product"]["ref"] == "RUN2"
    assert variant["product"]["description"] == "Light, grippy"
    assert len(variant["images"]) == 2
    assert [p["amount"] for p in variant["prices"]] == ["89.90"]
    product = client.get("/v1/products", params={"sku": "RUN2-43"}, headers=admin).json()
    assert [v["sku"] for v in product["data"][0]["variants"]] == ["RUN2-42", "RUN2-43"]
    store = client.get("/v1/locations", params={"q": "rivoli"}, headers=admin).json()["data"][0]
    assert store["opening_hours"]["tue"] == [["09:00", "12:00"], ["14:00", "19:00"]]
    assert store["timezone"] == "Europe/Paris"
    # the same files again: nothing changes
    before = counts(db)
    again = post(client, "products", PRODUCTS, admin)
    assert (again["created"], again["updated"]) == (0, 0)
    assert post(client, "prices", PRICES, admin)["updated"] == 0
    assert post(client, "locations", LOCATIONS, admin)["updated"] == 0
    assert counts(db) == before


def test_one_bad_row_imports_nothing_and_names_line_and_field(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    bad_products = PRODUCTS + (
        "SHOE-9,4006381333932,SHOE,Shoe,,,,,,,\n"  # line 5: bad check digit
        "RUN2-42,,OTHER,Other,,,,,,,\n"  # line 6: duplicate SKU in the file
        "SOCK-1,,SOCK,Sock,,,,,everywhere,size,ftp://x\n"  # line 7: three bad cells
    )
    response = client.post("/v1/imports/products", content=bad_products, headers={**admin, **CSV})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = {(e["line"], e["field"]) for e in response.json()["errors"]}
    assert errors == {
        (5, "gtin"),
        (6, "sku"),
        (7, "assortment"),
        (7, "attributes"),
        (7, "images"),
    }
    assert counts(db) == (0, 0, 0, 0, 0)
    bad_prices = "sku,currency,amount\nRUN2-42,EUR,19.999\nNOPE,EUR,1.00\nRUN2-42,XXX,1\n"
    post(client, "products", PRODUCTS, admin)
    before = counts(db)
    rejected = post(client, "prices", bad_prices, admin)
    assert rejected["status"] == 422
    assert [(e["line"], e["field"]) for e in rejected["errors"]] == [
        (2, "amount"),
        (3, "sku"),
        (4, "currency"),
    ]
    assert "unknown SKU NOPE" in rejected["errors"][1]["message"]
    bad_locations = LOCATIONS + "BAD,Bad,store,,,,FR,91,2.0,,,,\nWH-NORD,Dup,store,,,,FR,1,2,,,,\n"
    rejected = post(client, "locations", bad_locations, admin)
    assert [(e["line"], e["field"]) for e in rejected["errors"]] == [(4, "latitude"), (5, "code")]
    assert post(client, "products", "sku,colour\nA,red\n", admin)["errors"] == [
        {"line": 1, "field": "product_ref", "message": "missing required column 'product_ref'"},
        {"line": 1, "field": "product_title", "message": "missing required column 'product_title'"},
        {
            "line": 1,
            "field": "colour",
            "message": "unknown column 'colour'; known: "
            + ", ".join(__import__("omnicanal.catalog.csv_io", fromlist=["x"]).PRODUCT_COLUMNS),
        },
    ]
    assert counts(db) == before


@pytest.mark.parametrize("kind", ["products", "prices", "locations"])
def test_export_then_import_round_trips(
    client: TestClient, admin: dict[str, str], db: Database, kind: str, make_key: MakeKey
) -> None:
    post(client, "products", PRODUCTS, admin)
    client.post(
        "/v1/products",
        json={
            "title": "No ref; odd = chars; 100%",
            "attributes": {"fit": "a=b;c"},
            "variants": [{"sku": "ODD-1", "attributes": {"note": "50% off; =)"}}],
        },
        headers=admin,
    )
    post(client, "prices", PRICES, admin)
    post(client, "locations", LOCATIONS, admin)
    exported = client.get(f"/v1/exports/{kind}", headers=admin)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    before = counts(db)
    report = post(client, kind, exported.text, admin)
    assert (report["status"], report["created"], report["updated"]) == (200, 0, 0), report
    assert counts(db) == before
    assert client.get(f"/v1/exports/{kind}", headers=admin).text == exported.text
    if kind == "products":
        # into an empty catalogue, the file recreates the same products and variants
        snapshot = _catalogue(client, admin)
        truncate_all(db)
        fresh = make_key()
        assert post(client, "products", exported.text, fresh)["created"] == 4
        assert _catalogue(client, fresh) == snapshot


def _catalogue(client: TestClient, headers: dict[str, str]) -> list[object]:
    data = client.get("/v1/products", headers=headers).json()["data"]
    keep = ("title", "brand", "category", "description", "assortment", "status", "attributes")
    return sorted(
        (
            [p[k] for k in keep]
            + [
                [
                    (v["sku"], v["gtin"], v["title"], v["attributes"], v["images"])
                    for v in p["variants"]
                ]
            ]
            for p in data
        ),
        key=str,
    )


def test_import_scopes_and_unknown_kind(
    client: TestClient, make_key: MakeKey, admin: dict[str, str], db: Database
) -> None:
    web = make_key("web")
    denied = client.post("/v1/imports/products", content=PRODUCTS, headers={**web, **CSV})
    assert denied.status_code == 403
    assert denied.json()["required_scope"] == "catalog:write"
    assert counts(db) == (0, 0, 0, 0, 0)
    assert client.get("/v1/exports/products", headers=web).status_code == 200
    loc_only = make_key("admin", scopes=["locations:write"])
    assert client.get("/v1/exports/prices", headers=loc_only).status_code == 403
    assert (
        client.post("/v1/imports/widgets", content="a\n", headers={**admin, **CSV}).status_code
        == 404
    )
    not_utf8 = client.post("/v1/imports/products", content=b"sku\n\xff\n", headers={**admin, **CSV})
    assert not_utf8.status_code == 422


def test_import_is_idempotent_with_a_key(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    headers = {**admin, **CSV, "Idempotency-Key": "import-1"}
    first = client.post("/v1/imports/products", content=PRODUCTS, headers=headers)
    again = client.post("/v1/imports/products", content=PRODUCTS, headers=headers)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.fixture
def cli_env(db: Database, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OMNICANAL_DATABASE_URL", db.url)
    settings_module.get_settings.cache_clear()
    yield CliRunner()  # type: ignore[misc]
    settings_module.get_settings.cache_clear()


def test_cli_import_and_export(cli_env: CliRunner, db: Database, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    good = folder / "products.csv"
    good.write_text(PRODUCTS, encoding="utf-8")
    result = cli_env.invoke(cli, ["import", "products", str(good)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    bad = folder / "prices.csv"
    bad.write_text("sku,currency,amount\nRUN2-42,EUR,1.999\n", encoding="utf-8")
    rejected = cli_env.invoke(cli, ["import", "prices", str(bad)])
    assert rejected.exit_code == 1
    assert "nothing was imported" in rejected.output
    assert "amount" in rejected.output
    out = folder / "export.csv"
    exported = cli_env.invoke(cli, ["export", "products", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.read_text().splitlines()[0].startswith("sku,gtin,product_ref")
    assert len(out.read_text().splitlines()) == 4
    assert cli_env.invoke(cli, ["export", "widgets"]).exit_code == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(BasePriceRow)) == 0
