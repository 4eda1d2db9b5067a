"""GET /v1/kpis: definitions, values as JSON and CSV, filters, grouping, store-bound keys,
marketing spend, and bad input as problem details naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from omnicanal.analytics.definitions import KPIS
from omnicanal.events.dispatch import drain
from omnicanal.storage.database import Database
from omnicanal.tills.events import SaleRecorded, SoldLine
from tests.conftest import MakeKey
from tests.inventory_factories import make_location


def sell(
    db: Database, store: str, n: int, total_minor: int, day: int, customer: str | None
) -> None:
    with db.uow() as uow:
        uow.emit(
            SaleRecorded(
                till_sale_id=f"tsl_api{n}",
                store_id=store,
                till_id="T1",
                sale_id=str(n),
                channel="pos",
                sold_at=datetime(2026, 11, day, 15, tzinfo=UTC).isoformat(),
                currency="EUR",
                total_minor=total_minor,
                customer_id=customer,
                identified=customer is not None,
                lines=(SoldLine(sku="SOCKS", quantity=1, unit_price_minor=total_minor),),
            )
        )


@pytest.fixture
def stores(db: Database) -> tuple[str, str]:
    """Two stores: A sells 10.00 (identified) and 20.00 on the 2nd, B 30.00 on the 3rd."""
    a = make_location(db, "KPI-A")
    b = make_location(db, "KPI-B")
    sell(db, a, 1, 1000, 2, "cus_lea")
    sell(db, a, 2, 2000, 2, None)
    sell(db, b, 3, 3000, 3, None)
    drain(db)
    return a, b


NOV = {"from": "2026-11-01", "to": "2026-12-01"}


def test_definitions_list_every_kpi_with_titles_units_and_formulas(
    client: TestClient, admin: dict[str, str]
) -> None:
    r = client.get("/v1/kpis", headers=admin)
    assert r.status_code == 200
    data = {d["code"]: d for d in r.json()["data"]}
    assert set(data) == set(KPIS)
    assert data["average_basket"]["title_fr"] == "Panier moyen"
    assert data["average_basket"]["unit"] == "money"
    assert data["average_basket"]["formula"] == "Σ sale totals / count(sales)"
    assert data["till_identification_rate"]["channels"] == ["pos"]
    assert "tills.sale.recorded" in data["revenue"]["sources"]
    one = client.get("/v1/kpis/cc_no_show_rate", headers=admin).json()
    assert one["title_en"] == "Click & collect no-show rate"


def test_values_grouped_by_store_and_day(
    client: TestClient, admin: dict[str, str], stores: tuple[str, str]
) -> None:
    a, b = stores
    r = client.get("/v1/kpis", params={**NOV, "kpi": "revenue", "group_by": "store"}, headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert (body["from"], body["to"], body["group_by"]) == ("2026-11-01", "2026-12-01", "store")
    values = {v["group"]: (v["value"], v["currency"]) for v in body["data"]}
    assert values == {a: ("30.00", "EUR"), b: ("30.00", "EUR")}
    r = client.get(
        "/v1/kpis",
        params={**NOV, "kpi": ["order_count", "till_identification_rate"], "group_by": "day"},
        headers=admin,
    )
    got = [(v["kpi"], v["group"], v["value"]) for v in r.json()["data"]]
    assert got == [
        ("order_count", "2026-11-02", "2"),
        ("order_count", "2026-11-03", "1"),
        ("till_identification_rate", "2026-11-02", "0.500000"),
        ("till_identification_rate", "2026-11-03", "0.000000"),
    ]
    r = client.get(
        "/v1/kpis", params={**NOV, "kpi": "average_basket", "store": a}, headers=admin
    ).json()
    assert r["data"] == [
        {
            "kpi": "average_basket",
            "group": None,
            "value": "15.00",
            "numerator": "30.00",
            "denominator": "2",
            "unit": "money",
            "currency": "EUR",
        }
    ]
    # a time bound: the 3rd from 00:00 widens to the whole day, the 2nd is left out
    r = client.get(
        "/v1/kpis",
        params={"kpi": "revenue", "from": "2026-11-03T10:00:00Z", "to": "2026-11-04"},
        headers=admin,
    ).json()
    assert (r["from"], r["data"][0]["value"]) == ("2026-11-03", "30.00")


def test_csv_by_accept_header_or_format(
    client: TestClient, admin: dict[str, str], stores: tuple[str, str]
) -> None:
    params = {**NOV, "kpi": "revenue", "group_by": "day"}
    r = client.get("/v1/kpis", params=params, headers={**admin, "Accept": "text/csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text == (
        "kpi,group,value,numerator,denominator,unit,currency,from,to\n"
        "revenue,2026-11-02,30.00,30.00,,money,EUR,2026-11-01,2026-12-01\n"
        "revenue,2026-11-03,30.00,30.00,,money,EUR,2026-11-01,2026-12-01\n"
    )
    same = client.get("/v1/kpis", params={**params, "format": "csv"}, headers=admin)
    assert same.text == r.text
    definitions = client.get("/v1/kpis", params={"format": "csv"}, headers=admin).text
    lines = definitions.splitlines()
    assert lines[0] == "code,title_en,title_fr,unit,formula,filters,sources"
    assert len(lines) == 1 + len(KPIS)


def test_a_store_bound_key_reads_its_own_store(
    client: TestClient, make_key: MakeKey, stores: tuple[str, str]
) -> None:
    a, b = stores
    key = make_key("pos", scopes=["kpis:read"], store_id=a)
    mine = client.get("/v1/kpis", params={**NOV, "kpi": "order_count"}, headers=key).json()
    assert (mine["store"], mine["data"][0]["value"]) == (a, "2")
    other = client.get("/v1/kpis", params={**NOV, "kpi": "order_count", "store": b}, headers=key)
    assert other.status_code == 403
    no_scope = make_key("web", scopes=["orders:read"])
    assert client.get("/v1/kpis", headers=no_scope).status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kpi": "turnover"}, "kpi"),
        ({"kpi": "revenue", "from": "2026-12-01", "to": "2026-11-01"}, "from"),
        ({"kpi": "revenue", "store": "loc_nowhere"}, "store"),
        ({"kpi": "revenue", "from": "2026-11-01T00:00:00"}, "from"),
        ({"kpi": "revenue", "to": "yesterday"}, "to"),
        ({"kpi": "revenue", "channel": "telepathy"}, "channel"),
        ({"kpi": "revenue", "group_by": "week"}, "group_by"),
        ({"kpi": "time_to_profile_update", "channel": "web"}, "channel"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    client: TestClient, admin: dict[str, str], params: dict[str, str], field: str
) -> None:
    r = client.get("/v1/kpis", params=params, headers=admin)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body.get("field", (body.get("errors") or [{}])[0].get("field")) == field


def test_unknown_kpi_definition_is_a_problem(client: TestClient, admin: dict[str, str]) -> None:
    r = client.get("/v1/kpis/turnover", headers=admin)
    assert (r.status_code, r.json()["field"]) == (422, "code")


def test_spend_gives_the_acquisition_cost(
    client: TestClient, admin: dict[str, str], stores: tuple[str, str]
) -> None:
    r = client.post(
        "/v1/kpis/spend",
        json={
            "channel": "pos",
            "first_day": "2026-11-01",
            "last_day": "2026-11-30",
            "amount": "100.01",
            "currency": "EUR",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["amount"], r.json()["store_id"]) == ("100.01", None)
    # one new customer (cus_lea) in November: 100.01 per customer
    got = client.get("/v1/kpis", params={**NOV, "kpi": "acquisition_cost"}, headers=admin)
    assert got.json()["data"][0]["value"] == "100.01"
    # the first day carries the odd cent: 10001 = 334 + 29 x 333
    day1 = client.get(
        "/v1/kpis",
        params={"kpi": "acquisition_cost", "from": "2026-11-01", "to": "2026-11-02"},
        headers=admin,
    ).json()["data"][0]
    assert (day1["numerator"], day1["value"]) == ("3.34", None)
    bad = client.post(
        "/v1/kpis/spend",
        json={
            "channel": "pos",
            "first_day": "2026-11-30",
            "last_day": "2026-11-01",
            "amount": "1.00",
            "currency": "EUR",
        },
        headers=admin,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "last_day")
