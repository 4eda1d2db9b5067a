"""/v1/pilots: a feature turned on for pilot stores, compared with control stores.

The fixed data set: pilot stores P1, P2 and control stores C1, C2 sell over the 2nd and 3rd of
November (the pilot starts on the 2nd; sales on the 1st fall before it and are left out).

    revenue per store-day (EUR)   2 Nov  3 Nov
    P1                              10     20
    P2                              30     40
    C1                              10     10
    C2                              20     20

Pilot mean 25, control mean 15: difference 10. Variances of the store-day values: 166.67 and
33.33, so se = sqrt(166.67/4 + 33.33/4) = sqrt(50) = 7.0711; Welch-Satterthwaite
df = 50^2 / ((41.667^2 + 8.333^2) / 3) = 54/13 = 4.1538; t(0.975, 4.1538) = 2.7364;
95 % CI = 10 -/+ 19.349 = [-9.3490, 29.3490].
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from omnicanal.analytics import pilots
from omnicanal.events.dispatch import drain
from omnicanal.storage.database import Database
from tests.api.test_kpis_api import sell
from tests.conftest import MakeKey
from tests.inventory_factories import make_location


@pytest.fixture
def network(db: Database) -> dict[str, str]:
    stores = {name: make_location(db, f"PILOT-{name}") for name in ("P1", "P2", "C1", "C2")}
    sales = {
        "P1": (1000, 2000),
        "P2": (3000, 4000),
        "C1": (1000, 1000),
        "C2": (2000, 2000),
    }
    n = 0
    for name, (day2, day3) in sales.items():
        for day, amount in ((1, 99900), (2, day2), (3, day3)):
            n += 1
            sell(db, stores[name], n, amount, day, "cus_known" if name == "P1" else None)
    drain(db)
    return stores


def create(client: TestClient, admin: dict[str, str], stores: dict[str, str]) -> dict[str, object]:
    r = client.post(
        "/v1/pilots",
        json={
            "name": "Express pickup",
            "feature": "express_pickup",
            "pilot_stores": [stores["P1"], stores["P2"]],
            "control_stores": [stores["C1"], stores["C2"]],
            "starts_at": "2026-11-02T00:00:00Z",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_revenue_compared_with_a_welch_interval(
    client: TestClient, admin: dict[str, str], network: dict[str, str]
) -> None:
    pilot = create(client, admin, network)
    r = client.get(
        f"/v1/pilots/{pilot['id']}/comparison",
        params={"kpi": "revenue", "from": "2026-11-01", "to": "2026-11-04"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"], body["currency"]) == ("2026-11-02", "2026-11-04", "EUR")
    assert body["pilot"]["store_days"] == body["control"]["store_days"] == 4
    assert (body["pilot"]["mean"], body["control"]["mean"]) == ("25.0000", "15.0000")
    assert (body["pilot"]["value"], body["control"]["value"]) == ("100.00", "60.00")
    assert body["difference"] == "10.0000"
    assert (body["ci_low"], body["ci_high"]) == ("-9.3490", "29.3490")
    assert round(body["degrees_of_freedom"], 4) == 4.1538
    assert body["confidence"] == 0.95
    assert "Welch" in body["method"]


def test_a_ratio_kpi_counts_only_store_days_with_a_denominator(
    client: TestClient, admin: dict[str, str], network: dict[str, str], db: Database
) -> None:
    pilot = create(client, admin, network)
    sell(db, network["C1"], 99, 500, 2, "cus_other")  # C1 on the 2nd: 1 of 2 identified
    drain(db)
    body = client.get(
        f"/v1/pilots/{pilot['id']}/comparison",
        params={"kpi": "till_identification_rate", "from": "2026-11-01", "to": "2026-11-04"},
        headers=admin,
    ).json()
    # pilot: P1 1, 1; P2 0, 0 -> mean 0.5; control: C1 0.5, 0; C2 0, 0 -> mean 0.125
    assert (body["pilot"]["mean"], body["control"]["mean"]) == ("0.500000", "0.125000")
    assert body["difference"] == "0.375000"
    assert (body["pilot"]["value"], body["control"]["value"]) == ("0.500000", "0.200000")
    assert body["currency"] is None


def test_the_feature_is_on_at_pilot_stores_once_started(
    client: TestClient, admin: dict[str, str], network: dict[str, str], db: Database
) -> None:
    pilot = create(client, admin, network)
    listed = client.get("/v1/pilots", params={"feature": "express_pickup"}, headers=admin).json()
    assert [p["id"] for p in listed["data"]] == [pilot["id"]]
    one = client.get(f"/v1/pilots/{pilot['id']}", headers=admin).json()
    assert one["pilot_stores"] == sorted([network["P1"], network["P2"]])
    with db.read() as session:
        now = datetime(2026, 11, 10, tzinfo=UTC)
        assert pilots.is_enabled(session, "express_pickup", network["P1"], at=now)
        assert not pilots.is_enabled(session, "express_pickup", network["C1"], at=now)
        assert not pilots.is_enabled(session, "other_feature", network["P1"], at=now)
        before = datetime(2026, 11, 1, tzinfo=UTC)
        assert not pilots.is_enabled(session, "express_pickup", network["P1"], at=before)
    r = client.get(
        "/v1/pilots/enabled",
        params={"feature": "express_pickup", "store": network["P2"]},
        headers=admin,
    )
    assert r.json() == {"feature": "express_pickup", "store": network["P2"], "enabled": True}


def test_bad_pilots_are_problems_naming_the_field(
    client: TestClient, admin: dict[str, str], network: dict[str, str], make_key: MakeKey
) -> None:
    base: dict[str, object] = {
        "name": "x",
        "feature": "express_pickup",
        "pilot_stores": [network["P1"]],
        "control_stores": [network["C1"]],
        "starts_at": "2026-11-02T00:00:00Z",
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"control_stores": [network["P1"]]}, "control_stores"),
        ({"pilot_stores": ["loc_nowhere"]}, "pilot_stores"),
        ({"feature": "Express Pickup!"}, "feature"),
        ({"ends_at": "2026-11-01T00:00:00Z"}, "ends_at"),
    ]
    for change, field in cases:
        r = client.post("/v1/pilots", json={**base, **change}, headers=admin)
        assert (r.status_code, r.json().get("field")) == (422, field), r.text
    reader = make_key("web", scopes=["kpis:read"])
    assert client.post("/v1/pilots", json=base, headers=reader).status_code == 403
    assert client.get("/v1/pilots/plt_nothing", headers=admin).status_code == 404
    pilot = create(client, admin, network)
    url = f"/v1/pilots/{pilot['id']}/comparison"
    unknown = client.get(url, params={"kpi": "turnover"}, headers=admin)
    assert (unknown.status_code, unknown.json()["field"]) == (422, "kpi")
    early = client.get(
        url, params={"kpi": "revenue", "from": "2026-10-01", "to": "2026-11-01"}, headers=admin
    )
    assert (early.status_code, early.json()["field"]) == (422, "from")
