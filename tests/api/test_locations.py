"""Locations through the HTTP API: create, search, near me, scopes, bad input."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnicanal.events.tables import OutboxEventRow
from omnicanal.locations.tables import LocationRow
from omnicanal.storage.database import Database
from tests.conftest import MakeKey

HOURS = {d: [["09:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
PLACES = {
    "PAR-RIVOLI": (48.8606, 2.3376, "Paris"),
    "PAR-BASTILLE": (48.8532, 2.3692, "Paris"),
    "VERSAILLES": (48.8049, 2.1204, "Versailles"),
    "LYON-PART-DIEU": (45.7606, 4.8590, "Lyon"),
    "MARSEILLE": (43.2965, 5.3698, "Marseille"),
}


def store(code: str = "PAR-RIVOLI", **extra: Any) -> dict[str, Any]:
    lat, lon, city = PLACES.get(code, (48.86, 2.34, "Paris"))
    return {
        "code": code,
        "name": f"Store {code}",
        "kind": "store",
        "latitude": lat,
        "longitude": lon,
        "city": city,
        "address_line1": "1 rue de Rivoli",
        "postcode": "75001",
        "opening_hours": HOURS,
        "capabilities": ["pickup", "ship_from_store"],
        "daily_order_capacity": 40,
        **extra,
    }


def count(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(LocationRow)) or 0),
            int(s.scalar(select(func.count()).select_from(OutboxEventRow)) or 0),
        )


def test_create_read_and_patch_a_store(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    created = client.post("/v1/locations", json=store(), headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("loc_")
    assert body["open_now"] is True  # T0 is Monday 23 Nov 2026 09:00 UTC = 10:00 in Paris
    assert body["capabilities"] == ["pickup", "ship_from_store"]
    assert client.get(f"/v1/locations/{body['id']}", headers=admin).json() == body
    patched = client.patch(
        f"/v1/locations/{body['id']}",
        json={"status": "closed", "daily_order_capacity": None},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["open_now"] is False
    assert patched.json()["daily_order_capacity"] is None
    with db.read() as s:
        events = s.execute(
            select(OutboxEventRow.type, OutboxEventRow.data).order_by(OutboxEventRow.seq)
        ).all()
    assert [e[0] for e in events] == ["locations.location.created", "locations.location.updated"]
    assert sorted(events[1][1]["changed"]) == ["daily_order_capacity", "status"]


def test_bad_input_is_422_naming_the_field_and_changes_nothing(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    location_id = client.post("/v1/locations", json=store(), headers=admin).json()["id"]
    before = count(db)
    cases = [
        (store("A1", latitude=95), "latitude"),
        (store("A2", longitude=-200), "longitude"),
        (store("a-lower"), "code"),
        (store("A3", timezone="Mars/Olympus"), "timezone"),
        (store("A4", country="France"), "country"),
        (store("A5", opening_hours={"mon": [["19:00", "09:00"]]}), "opening_hours.mon"),
        (store("A6", capabilities=["teleport"]), "capabilities[0]"),
        (store("A7", daily_order_capacity=-3), "daily_order_capacity"),
        (store("A8", kind="shop"), "kind"),
    ]
    for payload, field in cases:
        response = client.post("/v1/locations", json=payload, headers=admin)
        assert response.status_code == 422, (field, response.text)
        problem = response.json()
        assert problem.get("field") == field or problem["errors"][0]["field"] == field, problem
    for changes, field in [({"latitude": -91}, "latitude"), ({"code": "OTHER"}, "code")]:
        response = client.patch(f"/v1/locations/{location_id}", json=changes, headers=admin)
        assert response.status_code == 422
        assert response.json()["field"] == field
    duplicate = client.post("/v1/locations", json=store(), headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["location_id"] == location_id
    assert count(db) == before
    assert client.get("/v1/locations/loc_NOPE", headers=admin).status_code == 404


def test_web_key_reads_but_cannot_write(
    client: TestClient, admin: dict[str, str], make_key: MakeKey, db: Database
) -> None:
    web = make_key("web")
    location_id = client.post("/v1/locations", json=store(), headers=admin).json()["id"]
    before = count(db)
    assert client.get("/v1/locations", headers=web).status_code == 200
    denied = client.post("/v1/locations", json=store("OTHER"), headers=web)
    assert denied.status_code == 403
    assert denied.json()["required_scope"] == "locations:write"
    patch = client.patch(f"/v1/locations/{location_id}", json={"name": "x"}, headers=web)
    assert patch.status_code == 403
    assert count(db) == before


def test_near_me_sorted_by_distance_within_radius_and_paginated(
    client: TestClient, admin: dict[str, str]
) -> None:
    for code in PLACES:
        caps = ["ship"] if code == "MARSEILLE" else ["pickup"]
        kind = "warehouse" if code == "MARSEILLE" else "store"
        assert (
            client.post(
                "/v1/locations", json=store(code, capabilities=caps, kind=kind), headers=admin
            ).status_code
            == 201
        )
    louvre = "48.8611,2.3364"
    near = client.get(
        "/v1/locations", params={"near": louvre, "radius_km": 30}, headers=admin
    ).json()
    assert [x["code"] for x in near["data"]] == ["PAR-RIVOLI", "PAR-BASTILLE", "VERSAILLES"]
    distances = [x["distance_km"] for x in near["data"]]
    assert distances == sorted(distances)
    assert distances[0] < 0.2
    assert 15 < distances[2] < 20
    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"near": louvre, "radius_km": 1000, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/locations", params=params, headers=admin).json()
        walked += [x["code"] for x in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert walked == ["PAR-RIVOLI", "PAR-BASTILLE", "VERSAILLES", "LYON-PART-DIEU", "MARSEILLE"]

    def codes(**params: Any) -> list[str]:
        response = client.get("/v1/locations", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [x["code"] for x in response.json()["data"]]

    assert codes(capability="ship") == ["MARSEILLE"]
    assert codes(kind="warehouse") == ["MARSEILLE"]
    assert sorted(codes(city="paris")) == ["PAR-BASTILLE", "PAR-RIVOLI"]
    assert codes(q="lyon") == ["LYON-PART-DIEU"]
    assert codes(capability="pickup", near="43.30,5.37", radius_km=400) == ["LYON-PART-DIEU"]
    for params, field in [
        ({"near": "91,2"}, "near"),
        ({"near": "paris"}, "near"),
        ({"near": louvre, "radius_km": 0}, "radius_km"),
        ({"radius_km": 5}, "radius_km"),
        ({"capability": "teleport"}, "capability"),
    ]:
        response = client.get("/v1/locations", params=params, headers=admin)
        assert response.status_code == 422, params
        assert response.json()["field"] == field


def test_plain_listing_walks_every_page(client: TestClient, admin: dict[str, str]) -> None:
    for i in range(7):
        client.post("/v1/locations", json=store(f"S-{i}"), headers=admin)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/locations", params=params, headers=admin).json()
        seen += [x["code"] for x in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"S-{i}" for i in range(7)]
