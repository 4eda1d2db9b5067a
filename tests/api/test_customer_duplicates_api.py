"""The duplicate review queue over HTTP: an admin scans, a reviewer accepts or rejects."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from omnicanal.shared.clock import FrozenClock
from tests.conftest import MakeKey


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def identify(
    client: TestClient, headers: dict[str, str], kind: str, value: str, **attributes: str
) -> str:
    body = {"identifiers": [{"kind": kind, "value": value}], "attributes": attributes}
    response = client.post("/v1/customers/identify", json=body, headers=idem(headers))
    assert response.status_code == 200, response.text
    profile_id: str = response.json()["profile_id"]
    return profile_id


def given_two_pairs(
    client: TestClient, make_key: MakeKey, clock: FrozenClock
) -> dict[str, tuple[str, str]]:
    web, pos = make_key("web"), make_key("pos")
    zoe = identify(
        client, web, "email", "zoe.martin@example.fr", given_name="Zoé", family_name="Martin",
        birth_date="1990-04-12", postal_code="69003", city="Lyon",
    )  # fmt: skip
    clock.advance(days=2)
    zoe_till = identify(
        client, pos, "phone", "06 12 34 56 78", given_name="Zoe", family_name="Matrin",
        birth_date="1990-04-12", postal_code="69003", city="Lyon",
    )  # fmt: skip
    paul = identify(
        client, web, "email", "paul.durand@example.fr", given_name="Paul", family_name="Durand",
        birth_date="1975-11-02", postal_code="75011", city="Paris",
    )  # fmt: skip
    clock.advance(days=2)
    paul_moved = identify(
        client, pos, "phone", "06 98 76 54 32", given_name="Paul", family_name="Durand",
        birth_date="1975-11-02", postal_code="44000", city="Nantes",
    )  # fmt: skip
    identify(client, web, "email", "lea@example.fr", given_name="Léa", family_name="Bernard")
    return {"zoe": (zoe, zoe_till), "paul": (paul, paul_moved)}


def scan(client: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/customers/duplicates/scan", json=body or None, headers=idem(admin))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_review_journey_scan_list_accept_reject_rescan(
    client: TestClient, make_key: MakeKey, admin: dict[str, str], clock: FrozenClock
) -> None:
    people = given_two_pairs(client, make_key, clock)
    callcenter = make_key("callcenter")
    report = scan(client, admin)
    assert report["profiles"] == 5
    assert (report["found"], report["opened"]) == (2, 2)
    assert "given_name" in report["fields"]

    listed = client.get("/v1/customers/duplicates?status=open&limit=1", headers=callcenter)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert len(page["data"]) == 1
    assert page["next_cursor"]
    more = client.get(
        f"/v1/customers/duplicates?limit=1&cursor={page['next_cursor']}", headers=callcenter
    ).json()
    assert more["next_cursor"] is None
    queue = {
        frozenset((c["left"]["id"], c["right"]["id"])): c for c in [*page["data"], *more["data"]]
    }
    assert set(queue) == {frozenset(people["zoe"]), frozenset(people["paul"])}
    assert page["data"][0]["match_weight"] >= more["data"][0]["match_weight"]
    zoe = queue[frozenset(people["zoe"])]
    assert zoe["status"] == "open"
    assert {e["field"]: e["level"] for e in zoe["explanation"]}["birth_date"] == "exact"
    assert {zoe["left"]["family_name"], zoe["right"]["family_name"]} == {"Martin", "Matrin"}
    one = client.get(f"/v1/customers/duplicates/{zoe['id']}", headers=callcenter)
    assert one.status_code == 200
    assert one.json()["id"] == zoe["id"]

    # the call centre confirms Zoé: one profile, the oldest, with lineage
    accepted = client.post(
        f"/v1/customers/duplicates/{zoe['id']}/accept",
        json={"note": "confirmed on the phone"},
        headers=idem(callcenter),
    )
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    survivor, absorbed = people["zoe"]
    assert body["merge"]["survivor_id"] == survivor
    assert body["merge"]["absorbed_ids"] == [absorbed]
    assert body["candidate"]["status"] == "accepted"
    assert body["candidate"]["decided_channel"] == "callcenter"
    assert body["candidate"]["right" if absorbed > survivor else "left"]["status"] == "merged"
    profile = client.get(f"/v1/customers/{absorbed}", headers=callcenter).json()
    assert profile["id"] == survivor
    assert profile["resolved_from"] == absorbed
    assert [m["source_ref"] for m in profile["lineage"]] == [f"duplicate:{zoe['id']}"]
    assert profile["lineage"][0]["caused_by"][0]["kind"] == "probable_duplicate"

    # Paul's namesake is someone else: rejected, and never proposed again
    paul = queue[frozenset(people["paul"])]
    rejected = client.post(
        f"/v1/customers/duplicates/{paul['id']}/reject", headers=idem(callcenter)
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    again = scan(client, admin)
    assert (again["profiles"], again["opened"], again["still_rejected"]) == (4, 0, 1)
    assert client.get("/v1/customers/duplicates", headers=callcenter).json()["data"] == []
    remembered = client.get("/v1/customers/duplicates?status=rejected", headers=callcenter)
    assert [c["id"] for c in remembered.json()["data"]] == [paul["id"]]

    # a contrary decision is a conflict
    late = client.post(f"/v1/customers/duplicates/{paul['id']}/accept", headers=idem(callcenter))
    assert late.status_code == 409
    assert late.json()["type"] == "/problems/duplicate-already-decided"


def test_who_may_scan_and_review(
    client: TestClient, make_key: MakeKey, admin: dict[str, str], clock: FrozenClock
) -> None:
    given_two_pairs(client, make_key, clock)
    web, marketplace = make_key("web"), make_key("marketplace")
    refused = client.post("/v1/customers/duplicates/scan", headers=idem(web))
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/admin-only"
    assert client.post("/v1/customers/duplicates/scan").status_code == 401
    scan(client, admin)
    assert client.get("/v1/customers/duplicates", headers=marketplace).status_code == 403
    [first, *_] = client.get("/v1/customers/duplicates", headers=admin).json()["data"]
    blind = client.post(f"/v1/customers/duplicates/{first['id']}/accept", headers=idem(marketplace))
    assert blind.status_code == 403  # a key that cannot read profiles cannot merge them


def test_bad_requests_name_the_fault(
    client: TestClient, make_key: MakeKey, admin: dict[str, str]
) -> None:
    unknown = client.post("/v1/customers/duplicates/dup_NOPE/accept", headers=idem(admin))
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/duplicate-candidate-not-found"
    status = client.get("/v1/customers/duplicates?status=maybe", headers=admin)
    assert status.status_code == 422
    assert status.json()["field"] == "status"
    cursor = client.get("/v1/customers/duplicates?cursor=garbage", headers=admin)
    assert cursor.status_code == 422
    assert cursor.json()["field"] == "cursor"
    low = client.post("/v1/customers/duplicates/scan", json={"threshold": 0.1}, headers=idem(admin))
    assert low.status_code == 422
    # the customers' own routes are untouched by the duplicates prefix
    assert client.get("/v1/customers/cus_NOPE", headers=admin).status_code == 404
