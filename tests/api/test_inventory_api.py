"""Inventory through the HTTP API: J2 availability near me, reservations, bad input, stores."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from omnicanal.inventory import service
from omnicanal.inventory.service import Line
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.inventory_factories import make_location, make_skus

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def shops(db: Database) -> dict[str, str]:
    """Three Paris stores, one in Lyon, a warehouse; SHOE-42 stocked differently in each."""
    ids = {
        "rivoli": make_location(db, "PAR-RIVOLI", lat=48.8606, lon=2.3470),
        "bastille": make_location(db, "PAR-BASTILLE", lat=48.8532, lon=2.3691),
        "defense": make_location(
            db, "PAR-DEFENSE", lat=48.8916, lon=2.2384, capabilities=("ship_from_store",)
        ),
        "lyon": make_location(db, "LYO-PARTDIEU", lat=45.7609, lon=4.8563),
        "saran": make_location(
            db, "WH-SARAN", lat=47.9510, lon=1.8760, kind="warehouse", capabilities=("ship",)
        ),
    }
    make_skus(db, "SHOE-42", "SOCKS")
    stock = {"rivoli": 1, "bastille": 4, "defense": 6, "lyon": 9, "saran": 50}
    with db.uow() as uow:
        for name, units in stock.items():
            service.receive(
                uow, location_id=ids[name], lines=[Line("SHOE-42", units), Line("SOCKS", 3)]
            )
    return ids


def test_j2_stores_near_me_that_have_it_sorted_by_distance(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    web = make_key("web")
    near = client.get(
        "/v1/availability",
        headers=web,
        params={
            "sku": "SHOE-42",
            "lat": 48.8566,
            "lon": 2.3522,
            "radius_km": 15,
            "quantity": 2,
        },
    ).json()
    codes = [a["location"]["code"] for a in near["data"]]
    assert codes == ["PAR-BASTILLE", "PAR-DEFENSE"]  # Rivoli has only 1; Lyon is too far
    assert near["data"][0]["distance_km"] < near["data"][1]["distance_km"]
    assert near["data"][0]["lines"] == [{"sku": "SHOE-42", "requested": 2, "available": 4}]
    pickup = client.get(
        "/v1/availability",
        headers=web,
        params={
            "sku": "SHOE-42",
            "lat": 48.8566,
            "lon": 2.3522,
            "radius_km": 15,
            "capability": "pickup",
        },
    ).json()
    assert [a["location"]["code"] for a in pickup["data"]] == ["PAR-RIVOLI", "PAR-BASTILLE"]


def test_j2_associate_sees_every_location_and_basket_availability(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    till = make_key("pos", store_id=shops["rivoli"])
    everywhere = client.get("/v1/stock/SHOE-42", headers=till).json()
    assert everywhere["total_available_to_promise"] == 70
    assert {lvl["location_code"] for lvl in everywhere["locations"]} >= {"WH-SARAN", "LYO-PARTDIEU"}
    basket = client.post(
        "/v1/availability/basket",
        headers=till,
        json={
            "lines": [{"sku": "SHOE-42", "quantity": 5}, {"sku": "SOCKS", "quantity": 1}],
            "location_ids": [shops["rivoli"], shops["saran"]],
        },
    ).json()
    by_code = {a["location"]["code"]: a for a in basket["data"]}
    assert by_code["WH-SARAN"]["can_supply_all"] is True
    assert by_code["PAR-RIVOLI"]["can_supply_all"] is False


def test_reservation_lifecycle_and_idempotent_retry(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    web = {**make_key("web"), "Idempotency-Key": "cart-1-hold"}
    body = {
        "owner_type": "cart",
        "owner_id": "crt_1",
        "location_id": shops["bastille"],
        "lines": [{"sku": "SHOE-42", "quantity": 3}],
    }
    first = client.post("/v1/reservations", headers=web, json=body)
    again = client.post("/v1/reservations", headers=web, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    [hold] = first.json()["reservations"]
    assert hold["status"] == "active"
    assert hold["expires_at"] is not None
    stock = client.get(
        f"/v1/locations/{shops['bastille']}/stock", headers=web, params={"sku": "SHOE"}
    ).json()["data"][0]
    assert (stock["reserved"], stock["available_to_promise"]) == (3, 1)
    released = client.post(f"/v1/reservations/{hold['id']}/release", headers=make_key("web"))
    assert released.json()["status"] == "released"
    twice = client.post(f"/v1/reservations/{hold['id']}/release", headers=make_key("web"))
    assert twice.status_code == 409


def test_oversize_reservation_is_a_problem_naming_what_is_available(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    response = client.post(
        "/v1/reservations",
        headers=make_key("web"),
        json={
            "owner_type": "cart",
            "owner_id": "crt_1",
            "location_id": shops["rivoli"],
            "lines": [{"sku": "SHOE-42", "quantity": 2}],
        },
    )
    assert response.status_code == 409
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert (problem["sku"], problem["available"], problem["requested"]) == ("SHOE-42", 1, 2)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"sku": "SHOE-42", "quantity": -1}], "lines[0].quantity"),
        ([{"sku": "SHOE-42", "quantity": 1.5}], "lines[0].quantity"),
        ([{"sku": "SHOE-42", "quantity": "2"}], "lines[0].quantity"),
        ([], "lines"),
    ],
)
def test_malformed_quantities_are_422_naming_the_field(
    client: TestClient, make_key: MakeKey, shops: dict[str, str], lines: list[object], field: str
) -> None:
    response = client.post(
        "/v1/reservations",
        headers=make_key("web"),
        json={
            "owner_type": "cart",
            "owner_id": "crt_1",
            "location_id": shops["rivoli"],
            "lines": lines,
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_unknown_sku_and_location_are_404_and_change_nothing(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    admin = make_key("admin")
    sku = client.post(
        "/v1/stock/receipts",
        headers=admin,
        json={"location_id": shops["rivoli"], "lines": [{"sku": "GHOST", "quantity": 1}]},
    )
    assert sku.status_code == 404
    assert sku.json()["sku"] == "GHOST"
    loc = client.post(
        "/v1/stock/receipts",
        headers=admin,
        json={"location_id": "loc_nowhere", "lines": [{"sku": "SOCKS", "quantity": 1}]},
    )
    assert loc.status_code == 404
    assert loc.json()["field"] == "location_id"
    ledger = client.get("/v1/stock-movements", headers=admin, params={"sku": "SOCKS"}).json()
    assert len(ledger["data"]) == 5  # only the opening receipts


def test_a_store_key_cannot_act_on_another_store(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    till = {**make_key("pos", store_id=shops["rivoli"]), "Idempotency-Key": "t-1"}
    other = client.post(
        "/v1/stock/sales",
        headers=till,
        json={"location_id": shops["bastille"], "lines": [{"sku": "SOCKS", "quantity": 1}]},
    )
    assert other.status_code == 403
    assert other.json()["type"] == "/problems/wrong-store"
    own = client.post(
        "/v1/stock/sales",
        headers={**till, "Idempotency-Key": "t-2"},
        json={"location_id": shops["rivoli"], "lines": [{"sku": "SOCKS", "quantity": 1}]},
    )
    assert own.status_code == 200
    assert own.json()["levels"][0]["on_hand"] == 2


def test_expired_hold_cannot_be_fulfilled(
    client: TestClient, make_key: MakeKey, shops: dict[str, str], clock: object
) -> None:
    web = make_key("web")
    hold = client.post(
        "/v1/reservations",
        headers=web,
        json={
            "owner_type": "cart",
            "owner_id": "crt_1",
            "location_id": shops["lyon"],
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
            "ttl_minutes": 5,
        },
    ).json()["reservations"][0]
    clock.advance(minutes=6)  # type: ignore[attr-defined]
    gone = client.post(f"/v1/reservations/{hold['id']}/fulfil", headers=web)
    assert gone.status_code == 410
    assert gone.json()["type"] == "/problems/reservation-expired"


def test_transfer_and_adjustment_over_http(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    admin = make_key("admin")
    created = client.post(
        "/v1/transfers",
        headers=admin,
        json={
            "from_location_id": shops["saran"],
            "to_location_id": shops["rivoli"],
            "lines": [{"sku": "SHOE-42", "quantity": 10}],
        },
    )
    assert created.status_code == 201
    tid = created.json()["id"]
    assert client.post(f"/v1/transfers/{tid}/ship", headers=admin).json()["status"] == "in_transit"
    received = client.post(f"/v1/transfers/{tid}/receive", headers=admin, json={})
    assert received.json()["lines"][0]["received_quantity"] == 10
    counted = client.post(
        "/v1/stock/adjustments",
        headers=admin,
        json={
            "location_id": shops["rivoli"],
            "sku": "SHOE-42",
            "counted": 8,
            "reason": "cycle count",
        },
    )
    assert counted.json()["on_hand"] == 8
    web = make_key("web")
    assert (
        client.post(
            "/v1/stock/receipts",
            headers=web,
            json={"location_id": shops["rivoli"], "lines": [{"sku": "SOCKS", "quantity": 1}]},
        ).status_code
        == 403
    )


def test_stock_csv_round_trip_and_rejection(
    client: TestClient, make_key: MakeKey, shops: dict[str, str]
) -> None:
    admin = make_key("admin")
    exported = client.get("/v1/exports/stock", headers=admin).text
    assert exported.splitlines()[0] == "sku,location_code,on_hand,safety_stock,low_stock_threshold"
    bad = "sku,location_code,on_hand\nSOCKS,PAR-RIVOLI,7\nSOCKS,NOWHERE,x\n"
    rejected = client.post(
        "/v1/imports/stock", headers={**admin, "Content-Type": "text/csv"}, content=bad
    )
    assert rejected.status_code == 422
    assert {e["field"] for e in rejected.json()["errors"]} == {"location_code", "on_hand"}
    stock = client.get("/v1/stock/SOCKS", headers=admin).json()["locations"]
    assert {lvl["on_hand"] for lvl in stock} == {3}  # nothing half-imported
    good = "sku,location_code,on_hand,safety_stock\nSOCKS,PAR-RIVOLI,7,1\n"
    report = client.post(
        "/v1/imports/stock", headers={**admin, "Content-Type": "text/csv"}, content=good
    ).json()
    assert report["updated"] == 1
    rivoli = next(
        lvl
        for lvl in client.get("/v1/stock/SOCKS", headers=admin).json()["locations"]
        if lvl["location_code"] == "PAR-RIVOLI"
    )
    assert (rivoli["on_hand"], rivoli["safety_stock"], rivoli["available_to_promise"]) == (7, 1, 6)
