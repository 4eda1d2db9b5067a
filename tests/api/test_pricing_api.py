"""J6 through HTTP: the same SKU costs the same on every channel unless a justified rule says
otherwise, and the audit shows any exception."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.events.dispatch import drain
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.conftest import MakeKey

SKU = "RUN2-42"


def store(client: TestClient, admin: dict[str, str], code: str, territory: str) -> str:
    created = client.post(
        "/v1/locations",
        json={
            "code": code,
            "name": code.title(),
            "kind": "store",
            "latitude": 41.92,
            "longitude": 8.74,
            "territory": territory,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    location_id: str = created.json()["id"]
    return location_id


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    product = {"title": "Runner 2 trail shoe", "variants": [{"sku": SKU}]}
    assert client.post("/v1/products", json=product, headers=admin).status_code == 201
    put = client.put(f"/v1/prices/{SKU}/EUR", json={"amount": "89.90"}, headers=admin)
    assert put.status_code == 200, put.text
    return {
        "ajaccio": store(client, admin, "AJA-CENTRE", "FR-COR"),
        "bastia": store(client, admin, "BIA-PORT", "FR-COR"),
    }


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def quote(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    got = client.get(
        f"/v1/prices/{SKU}/resolve", params={"currency": "EUR", **params}, headers=headers
    )
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def test_j6_one_price_everywhere_a_justified_exception_and_an_audited_one(
    client: TestClient, admin: dict[str, str], make_key: MakeKey, db: Database, shop: dict[str, str]
) -> None:
    keys = {
        "web": make_key("web"),
        "app": make_key("app"),
        "pos": make_key("pos", store_id=shop["ajaccio"]),
        "marketplace": make_key("marketplace"),
    }
    # the same SKU through every channel: one price, the base price
    quotes = {channel: quote(client, key) for channel, key in keys.items()}
    assert {q["amount"] for q in quotes.values()} == {"89.90"}
    assert {q["channel"] for q in quotes.values()} == set(keys)
    assert quotes["pos"]["store_id"] == shop["ajaccio"]
    assert quotes["pos"]["territory"] == "FR-COR"
    assert all(q["override"] is None for q in quotes.values())

    # a justified store override: the Ajaccio till sells lower, nobody else does
    created = client.post(
        "/v1/pricing/overrides",
        json={
            "sku": SKU,
            "currency": "EUR",
            "amount": "79.90",
            "store_id": shop["ajaccio"],
            "reason": "local_competition",
            "owner": "Ajaccio store manager",
            "note": "Sport 2000 across the street sells it at 79.90",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    override = created.json()
    assert override["id"].startswith("pov_")
    assert override["justified"]
    pos = quote(client, keys["pos"])
    assert pos["amount"] == "79.90"
    assert pos["base_amount"] == "89.90"
    assert pos["override"]["id"] == override["id"]
    assert pos["override"]["reason"] == "local_competition"
    for channel in ("web", "app", "marketplace"):
        assert quote(client, keys[channel])["amount"] == "89.90"

    audit = client.get("/v1/pricing/audit", headers=admin).json()
    [entry] = audit["data"]
    assert (entry["sku"], entry["base_amount"]) == (SKU, "89.90")
    [difference] = entry["differences"]
    assert difference["justified"]
    assert difference["override"]["id"] == override["id"]
    assert difference["store_id"] == shop["ajaccio"]
    assert difference["amount"] == "79.90"
    assert audit["unjustified"] == 0

    # the Bastia till charges 84.90 with no rule behind it
    bastia = make_key("pos", store_id=shop["bastia"])
    observed = client.post(
        "/v1/pricing/observations",
        json={"sku": SKU, "currency": "EUR", "amount": "84.90", "reference": "T12-0042"},
        headers=idem(bastia),
    )
    assert observed.status_code == 201, observed.text
    assert observed.json()["store_id"] == shop["bastia"]
    assert observed.json()["channel"] == "pos"
    audit = client.get("/v1/pricing/audit", headers=admin).json()
    assert audit["unjustified"] == 1
    unjustified = [d for d in audit["data"][0]["differences"] if not d["justified"]]
    assert [
        (d["source"], d["store_id"], d["amount"], d["expected_amount"]) for d in unjustified
    ] == [("observation", shop["bastia"], "84.90", "89.90")]

    run = client.post("/v1/pricing/audit/runs", json={}, headers=admin)
    assert run.status_code == 201, run.text
    assert (run.json()["unjustified"], run.json()["flagged"]) == (1, 1)
    again = client.post("/v1/pricing/audit/runs", json={}, headers=admin).json()
    assert again["flagged"] == 0  # the same difference is not flagged twice
    drain(db)
    feed = client.get("/v1/events", params={"type": "pricing.*"}, headers=admin).json()
    types = [e["type"] for e in feed["data"]]
    assert types == ["pricing.override.created", "pricing.difference.unjustified"]
    flagged = feed["data"][1]
    assert flagged["subject"] == SKU
    assert flagged["data"]["store_id"] == shop["bastia"]
    assert flagged["data"]["amount"] == "84.90"
    assert flagged["data"]["source"] == "observation"


def test_an_override_without_justification_is_refused_naming_the_field(
    client: TestClient, admin: dict[str, str], shop: dict[str, str]
) -> None:
    body = {"sku": SKU, "currency": "EUR", "amount": "79.90", "channel": "web"}
    cases = [
        ({}, "reason"),
        ({"reason": "clearance"}, "owner"),
        ({"reason": "clearance", "owner": "Merch"}, "valid_until"),
        (
            {"reason": "price_test", "owner": "Merch", "valid_until": "2020-01-01T00:00:00Z"},
            "valid_until",
        ),
        ({"reason": "cheaper", "owner": "Merch"}, "reason"),
    ]
    for extra, field in cases:
        refused = client.post("/v1/pricing/overrides", json=body | extra, headers=admin)
        assert refused.status_code == 422, (extra, refused.text)
        problem = refused.json()
        assert (
            problem.get("field") == field or problem.get("errors", [{}])[0].get("field") == field
        ), (
            extra,
            problem,
        )
    as_float = client.post(
        "/v1/pricing/overrides",
        json=body | {"amount": 79.9, "reason": "marketplace_fee", "owner": "Merch"},
        headers=admin,
    )
    assert as_float.status_code == 422
    listed = client.get("/v1/pricing/overrides", headers=admin).json()
    assert listed["data"] == []


def test_overrides_crud_end_one_and_the_history_keeps_every_change(
    client: TestClient,
    admin: dict[str, str],
    make_key: MakeKey,
    shop: dict[str, str],
    clock: FrozenClock,
) -> None:
    web = make_key("web")
    body = {
        "sku": SKU,
        "currency": "EUR",
        "amount": "84.90",
        "channel": "web",
        "territory": "FR-COR",
        "reason": "price_test",
        "owner": "E-commerce",
        "valid_until": "2026-12-31T00:00:00Z",
    }
    headers = idem(admin)
    first = client.post("/v1/pricing/overrides", json=body, headers=headers)
    replay = client.post("/v1/pricing/overrides", json=body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["id"] == replay.json()["id"]
    override_id = first.json()["id"]
    assert first.json()["scope"]["label"] == "territory=FR-COR+channel=web"
    assert quote(client, web, territory="FR-COR")["amount"] == "84.90"
    assert quote(client, web)["amount"] == "89.90"
    listed = client.get("/v1/pricing/overrides", params={"sku": SKU}, headers=web).json()
    assert [o["id"] for o in listed["data"]] == [override_id]
    assert (
        client.get(f"/v1/pricing/overrides/{override_id}", headers=web).json()["amount"] == "84.90"
    )

    clock.advance(hours=1)
    ended = client.patch(
        f"/v1/pricing/overrides/{override_id}",
        json={"valid_until": "2026-11-23T10:00:00Z"},
        headers=admin,
    )
    assert ended.status_code == 200, ended.text
    assert quote(client, web, territory="FR-COR")["amount"] == "89.90"
    in_force = client.get(
        "/v1/pricing/overrides", params={"in_force_at": "2026-11-23T10:00:00Z"}, headers=web
    )
    assert in_force.json()["data"] == []

    # the catalogue's PUT /prices/{sku}/{currency} is not shadowed by /prices/{sku}/resolve
    assert (
        client.put(f"/v1/prices/{SKU}/EUR", json={"amount": "94.90"}, headers=admin).status_code
        == 200
    )
    history = client.get(f"/v1/prices/{SKU}/history", headers=web).json()["data"]
    assert [
        (h["type"], h["data"].get("new_amount") or h["data"].get("amount")) for h in history
    ] == [
        ("catalog.price.changed", "89.90"),
        ("pricing.override.created", "84.90"),
        ("pricing.override.changed", "84.90"),
        ("catalog.price.changed", "94.90"),
    ]
    missing = client.get("/v1/pricing/overrides/pov_nope", headers=web)
    assert missing.status_code == 404


def test_channels_read_prices_but_only_head_office_manages_them(
    client: TestClient, admin: dict[str, str], make_key: MakeKey, shop: dict[str, str]
) -> None:
    web = make_key("web")
    body = {
        "sku": SKU,
        "currency": "EUR",
        "amount": "79.90",
        "channel": "web",
        "reason": "marketplace_fee",
        "owner": "Web",
    }
    refused = client.post("/v1/pricing/overrides", json=body, headers=web)
    assert refused.status_code == 403
    assert client.post("/v1/pricing/audit/runs", json={}, headers=web).status_code == 403
    assert client.get("/v1/pricing/audit", headers=web).status_code == 200
    # an admin key names the channel it prices for
    no_channel = client.get(f"/v1/prices/{SKU}/resolve", params={"currency": "EUR"}, headers=admin)
    assert no_channel.status_code == 422
    assert no_channel.json()["field"] == "channel"
    # a store-bound till reports for its own store only
    till = make_key("pos", store_id=shop["ajaccio"])
    other = client.post(
        "/v1/pricing/observations",
        json={"sku": SKU, "currency": "EUR", "amount": "89.90", "store_id": shop["bastia"]},
        headers=idem(till),
    )
    assert other.status_code == 403
    assert other.json()["type"] == "/problems/wrong-store"


def test_an_imported_difference_is_unjustified_until_approved(
    client: TestClient, admin: dict[str, str], db: Database, shop: dict[str, str]
) -> None:
    imported = client.post(
        "/v1/pricing/overrides/import",
        json={"sku": SKU, "currency": "EUR", "amount": "94.90", "channel": "marketplace"},
        headers=admin,
    )
    assert imported.status_code == 201, imported.text
    assert not imported.json()["justified"]
    audit = client.get("/v1/pricing/audit", headers=admin).json()
    [difference] = audit["data"][0]["differences"]
    assert not difference["justified"]
    assert difference["channels"] == ["marketplace"]
    assert client.post("/v1/pricing/audit/runs", json={}, headers=admin).json()["flagged"] == 1
    approved = client.patch(
        f"/v1/pricing/overrides/{imported.json()['id']}",
        json={"reason": "marketplace_fee", "owner": "Marketplace team"},
        headers=admin,
    )
    assert approved.status_code == 200
    assert approved.json()["justified"]
    run = client.post("/v1/pricing/audit/runs", json={}, headers=admin).json()
    assert (run["unjustified"], run["cleared"]) == (0, 1)
    drain(db)
    feed = client.get("/v1/events", params={"type": "pricing.difference.*"}, headers=admin)
    assert [e["type"] for e in feed.json()["data"]] == [
        "pricing.difference.unjustified",
        "pricing.difference.cleared",
    ]
