"""Timeline, activity ingestion, purchase import, attributes and segments through HTTP; erasure
leaves nothing in the new tables."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnicanal.events.dispatch import drain
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.base import Base
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.inventory_factories import make_location

LOYAL = {
    "all": [
        {"attr": "frequency", "op": ">=", "value": 2},
        {"attr": "recency_days", "op": "<=", "value": 90},
    ]
}


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def identify(client: TestClient, headers: dict[str, str], *pairs: tuple[str, str]) -> str:
    body = {"identifiers": [{"kind": k, "value": v} for k, v in pairs]}
    return str(
        ok(client.post("/v1/customers/identify", json=body, headers=idem(headers)))["profile_id"]
    )


def purchase(
    client: TestClient, headers: dict[str, str], customer: str, ref: str, amount: str, **kw: Any
) -> dict[str, Any]:
    body = {"ref": ref, "total": {"amount": amount, "currency": "EUR"}, **kw}
    body.setdefault("occurred_at", "2026-11-20T10:00:00+00:00")
    result: dict[str, Any] = ok(
        client.post(f"/v1/customers/{customer}/purchases", json=body, headers=idem(headers))
    )
    return result


def test_j7_one_timeline_for_the_till_the_site_and_the_app(
    client: TestClient, make_key: MakeKey, clock: FrozenClock, db: Database
) -> None:
    lyon = make_location(db, "LYON")
    pos = make_key("pos", store_id=lyon)
    web, app, admin = make_key("web"), make_key("app"), make_key("admin")
    till = identify(client, pos, ("phone", "06 12 34 56 78"))
    sale = purchase(client, pos, till, "LYON-3-000123", "49.90")
    assert (sale["created"], sale["channel"], sale["store_id"]) == (True, "pos", lyon)
    clock.advance(minutes=5)
    visit = ok(
        client.post(
            "/v1/activities",
            json={
                "identifiers": [{"kind": "cookie", "value": "ck-7f3a"}],
                "activities": [
                    {"kind": "session", "session_id": "w-1", "payload": {"device_type": "desktop"}},
                    {"kind": "view", "session_id": "w-1", "payload": {"sku": "TSH-BLU-M"}},
                    {"kind": "search", "session_id": "w-1", "payload": {"query": "tee shirt"}},
                ],
            },
            headers=web,
        )
    )
    assert visit["outcome"] == "created"
    assert [a["ref"] for a in visit["activities"]] == [None, "TSH-BLU-M", None]
    clock.advance(minutes=5)
    # the app needs an Idempotency-Key on every POST
    body = {
        "identifiers": [{"kind": "device_id", "value": "ios-IDFV-0042"}],
        "activities": [{"kind": "session", "session_id": "a-1", "payload": {"device_type": "app"}}],
    }
    missing = client.post("/v1/activities", json=body, headers=app)
    assert missing.status_code == 422
    assert missing.json()["type"] == "/problems/idempotency-key-required"
    key = idem(app)
    first = ok(client.post("/v1/activities", json=body, headers=key))
    replay = client.post("/v1/activities", json=body, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first
    clock.advance(minutes=5)
    # she logs in to the app with her phone and the site's cookie: three profiles are one
    login = ok(
        client.post(
            "/v1/activities",
            json={
                "identifiers": [
                    {"kind": "device_id", "value": "ios-IDFV-0042"},
                    {"kind": "phone", "value": "+33612345678"},
                    {"kind": "cookie", "value": "ck-7f3a"},
                ],
                "activities": [{"kind": "view", "payload": {"sku": "SHO-TRL-42"}}],
            },
            headers=idem(app),
        )
    )
    assert (login["outcome"], login["profile_id"]) == ("merged", till)
    drain(db)

    timeline = ok(client.get(f"/v1/customers/{visit['profile_id']}/timeline", headers=admin))
    assert timeline["profile_id"] == till
    assert timeline["resolved_from"] == visit["profile_id"]
    shown = [(e["kind"], e["channel"]) for e in timeline["data"] if e["kind"] != "profile"]
    assert shown == [
        ("view", "app"),
        ("session", "app"),
        ("search", "web"),
        ("view", "web"),
        ("session", "web"),
        ("order", "pos"),  # the till sale, imported three days before
    ]
    sale_entry = timeline["data"][-1]
    assert (sale_entry["action"], sale_entry["store_id"], sale_entry["source"]) == (
        "purchased",
        lyon,
        "import",
    )
    assert sale_entry["payload"]["total"] == {"amount": "49.90", "currency": "EUR"}
    assert {e["profile_id"] for e in timeline["data"]} == {till}
    assert ("profile", "merged") in [(e["kind"], e["action"]) for e in timeline["data"]]
    views = ok(client.get(f"/v1/customers/{till}/timeline?kind=view,search&limit=2", headers=admin))
    assert [e["kind"] for e in views["data"]] == ["view", "search"]
    rest = ok(
        client.get(
            f"/v1/customers/{till}/timeline",
            params={"kind": ["view", "search"], "cursor": views["next_cursor"]},
            headers=admin,
        )
    )
    assert [e["kind"] for e in rest["data"]] == ["view"]
    assert rest["next_cursor"] is None

    attrs = ok(client.get(f"/v1/customers/{visit['profile_id']}/attributes", headers=web))
    assert attrs["profile_id"] == till
    assert attrs["frequency"] == 1
    assert attrs["monetary"] == {"amount": "49.90", "currency": "EUR"}
    assert attrs["channels"] == ["pos"]
    assert attrs["recency_days"] == 2  # 2 days 23 hours
    assert attrs["scores"] == {"recency": 5, "frequency": 1, "monetary": 1, "code": "511"}


def test_activity_input_is_checked(client: TestClient, make_key: MakeKey, db: Database) -> None:
    web, admin = make_key("web"), make_key("admin")
    lyon = make_location(db, "LYON")
    pos = make_key("pos", store_id=lyon)
    zoe = identify(client, web, ("email", "zoe@example.fr"))
    url = f"/v1/customers/{zoe}/activities"
    cases = [
        ({"activities": []}, "activities"),
        ({"activities": [{"kind": "order"}]}, "activities[0]"),
        ({"activities": [{"kind": "view", "payload": {}}]}, "activities[0].view.payload.sku"),
        ({"activities": [{"kind": "view", "payload": {"sku": "A", "x": 1}}]}, None),
        ({"activities": [{"kind": "view", "channel": "pos", "payload": {"sku": "A"}}]}, None),
    ]
    for body, field in cases:
        response = client.post(url, json=body, headers=web)
        assert response.status_code == 422, (body, response.text)
        if field:
            assert response.json()["errors"][0]["field"] == field
    # head office imports another channel's history
    imported = ok(
        client.post(
            url,
            json={"activities": [{"kind": "view", "channel": "pos", "payload": {"sku": "A"}}]},
            headers=admin,
        )
    )
    assert imported["activities"][0]["channel"] == "pos"
    # a store-bound till records in its own store only
    bound = ok(client.post(url, json={"activities": [{"kind": "session"}]}, headers=idem(pos)))
    assert bound["activities"][0]["store_id"] == lyon
    other = client.post(
        url, json={"activities": [{"kind": "session", "store_id": "loc_paris"}]}, headers=idem(pos)
    )
    assert other.status_code == 403
    assert client.post("/v1/customers/cus_nope/activities", json={"activities": [
        {"kind": "session"}]}, headers=web).status_code == 404  # fmt: skip
    bad_kind = client.get(f"/v1/customers/{zoe}/timeline?kind=visit", headers=web)
    assert (bad_kind.status_code, bad_kind.json()["field"]) == (422, "kind")
    assert client.get(f"/v1/customers/{zoe}/timeline?cursor=zzz", headers=web).status_code == 422
    assert client.get(f"/v1/customers/{zoe}/timeline?limit=500", headers=web).status_code == 422
    market = make_key("marketplace")
    assert client.get(f"/v1/customers/{zoe}/timeline", headers=market).status_code == 403


def test_segments_are_defined_by_rules_listed_and_shown_on_the_profile(
    client: TestClient, make_key: MakeKey, clock: FrozenClock, db: Database
) -> None:
    web, admin = make_key("web"), make_key("admin")
    customers = [identify(client, web, ("email", f"c{n}@example.fr")) for n in range(5)]
    for n, customer in enumerate(customers[:3]):
        for k in range(n + 1):
            purchase(client, admin, customer, f"T-{n}-{k}", "40.00", channel="pos")
    drain(db)
    doc = ok(client.get("/v1/segments/attributes", headers=web))
    assert {"recency_days", "frequency", "monetary", "channels"} <= {d["attr"] for d in doc}

    body = {"name": "Loyal and recent", "rule": LOYAL, "description": "2+ purchases in 90 days"}
    assert client.post("/v1/segments", json=body, headers=web).status_code == 403
    created = ok(client.post("/v1/segments", json=body, headers=idem(admin)), 201)
    assert (created["member_count"], created["entered"], created["left"]) == (2, 2, 0)
    assert created["rule"] == LOYAL
    taken = client.post("/v1/segments", json=body, headers=admin)
    assert (taken.status_code, taken.json()["type"]) == (409, "/problems/segment-name-taken")
    bad = client.post(
        "/v1/segments",
        json={"name": "Bad", "rule": {"all": [{"attr": "age", "op": ">", "value": 30}]}},
        headers=admin,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "rule.all[0].attr")
    floats = client.post(
        "/v1/segments",
        json={"name": "Big", "rule": {"attr": "monetary", "op": ">=", "value": 99.5}},
        headers=admin,
    )
    assert floats.status_code == 422

    seg = created["id"]
    page = ok(client.get(f"/v1/segments/{seg}/members?limit=1", headers=web))
    more = ok(client.get(f"/v1/segments/{seg}/members?cursor={page['next_cursor']}", headers=web))
    members = [m["profile_id"] for m in page["data"] + more["data"]]
    assert sorted(members) == sorted(customers[1:3])
    assert more["next_cursor"] is None
    listed = ok(client.get("/v1/segments", headers=web))
    assert [s["id"] for s in listed["data"]] == [seg]
    assert ok(client.get(f"/v1/segments/{seg}", headers=web))["member_count"] == 2
    assert client.get("/v1/segments/seg_nope", headers=web).status_code == 404
    assert client.get("/v1/segments/seg_nope/members", headers=web).status_code == 404

    on_profile = ok(client.get(f"/v1/customers/{customers[2]}/attributes", headers=web))
    assert [s["name"] for s in on_profile["segments"]] == ["Loyal and recent"]
    assert on_profile["scores"]["frequency"] == 3

    changed = ok(
        client.put(
            f"/v1/segments/{seg}",
            json={"rule": {"attr": "frequency", "op": ">=", "value": 1}},
            headers=admin,
        )
    )
    assert (changed["member_count"], changed["entered"], changed["left"]) == (3, 1, 0)
    assert client.put(f"/v1/segments/{seg}", json={}, headers=admin).status_code == 422
    nobody = ok(client.get(f"/v1/customers/{customers[4]}/attributes", headers=web))
    assert (nobody["frequency"], nobody["monetary"], nobody["segments"]) == (0, None, [])


def test_purchase_import_is_idempotent_by_reference(
    client: TestClient, make_key: MakeKey, db: Database
) -> None:
    pos, web = make_key("pos"), make_key("web")
    zoe = identify(client, web, ("email", "zoe@example.fr"))
    body = {
        "ref": "LYON-1",
        "occurred_at": "2026-10-01T12:00:00+02:00",
        "total": {"amount": "19.99", "currency": "EUR"},
    }
    url = f"/v1/customers/{zoe}/purchases"
    assert ok(client.post(url, json=body, headers=idem(pos)))["created"] is True
    again = ok(client.post(url, json=body, headers=idem(pos)))  # a retried sync, another key
    assert again["created"] is False
    changed = client.post(
        url, json={**body, "total": {"amount": "20.99", "currency": "EUR"}}, headers=idem(pos)
    )
    assert (changed.status_code, changed.json()["type"]) == (
        409,
        "/problems/purchase-already-recorded",
    )
    refund = ok(
        client.post(
            url,
            json={**body, "kind": "return", "ref": "LYON-1-R", "order_ref": "LYON-1"},
            headers=idem(pos),
        )
    )
    assert refund["kind"] == "return"
    as_float = client.post(
        url,
        json={**body, "ref": "X", "total": {"amount": 19.99, "currency": "EUR"}},
        headers=idem(pos),
    )
    assert as_float.status_code == 422
    too_precise = client.post(
        url,
        json={**body, "ref": "Y", "total": {"amount": "1.999", "currency": "EUR"}},
        headers=idem(pos),
    )
    assert (too_precise.status_code, too_precise.json()["field"]) == (422, "total.amount")
    naive = client.post(
        url, json={**body, "ref": "Z", "occurred_at": "2026-10-01T12:00:00"}, headers=idem(pos)
    )
    assert naive.status_code == 422
    other_channel = client.post(url, json={**body, "ref": "W", "channel": "web"}, headers=idem(pos))
    assert other_channel.status_code == 422
    attrs = ok(client.get(f"/v1/customers/{zoe}/attributes", headers=web))
    assert (attrs["frequency"], attrs["return_count"]) == (1, 1)
    assert attrs["total_spent"] == {"amount": "19.99", "currency": "EUR"}
    assert attrs["monetary"] == {"amount": "0.00", "currency": "EUR"}


PERSONAL = ["zoe.martin@example.fr", "+33612345678", "robe rouge zoé", "ck-secret-42", "Zoé"]


def scan(db: Database) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                text = str(tuple(row)).lower()
                found += [(table.name, v) for v in PERSONAL if v.lower() in text]
    return found


def test_erasure_leaves_nothing_in_the_timeline_attributes_segments_or_tickets(
    client: TestClient, make_key: MakeKey, db: Database, clock: FrozenClock
) -> None:
    web, admin, callcenter = make_key("web"), make_key("admin"), make_key("callcenter")
    zoe = ok(
        client.post(
            "/v1/customers/identify",
            json={
                "identifiers": [{"kind": "email", "value": "Zoe.Martin@example.fr"}],
                "attributes": {"given_name": "Zoé"},
            },
            headers=web,
        )
    )["profile_id"]
    ok(
        client.post(
            "/v1/activities",
            json={
                "identifiers": [
                    {"kind": "email", "value": "zoe.martin@example.fr"},
                    {"kind": "cookie", "value": "ck-secret-42"},
                ],
                "activities": [{"kind": "search", "payload": {"query": "robe rouge Zoé"}}],
            },
            headers=web,
        )
    )
    purchase(client, web, zoe, "W-1", "80.00")
    ok(client.post("/v1/segments", json={"name": "Buyers", "rule": {
        "attr": "frequency", "op": ">=", "value": 1}}, headers=admin), 201)  # fmt: skip
    ticket = ok(
        client.post(
            "/v1/tickets",
            json={
                "channel": "phone",
                "phone": "06 12 34 56 78",
                "subject": "Zoé: robe rouge zoé never arrived",
                "description": "Call me on +33612345678",
            },
            headers=callcenter,
        ),
        201,
    )
    ok(
        client.post(
            f"/v1/tickets/{ticket['id']}/status", json={"status": "resolved"}, headers=callcenter
        )
    )
    ok(
        client.post(
            f"/v1/tickets/{ticket['id']}/csat",
            json={"score": 4, "comment": "merci Zoé"},
            headers=web,
        )
    )
    linked = identify(client, web, ("email", "zoe.martin@example.fr"), ("phone", "+33612345678"))
    assert linked == zoe
    drain(db)
    export = ok(client.get(f"/v1/customers/{zoe}/export", headers=admin))
    assert {"timeline", "attributes", "tickets"} <= set(export)
    assert export["tickets"][0]["csat_comment"] == "merci Zoé"
    before = {t for t, _ in scan(db)}
    assert {"customer_timeline", "service_tickets"} <= before

    ok(client.post(f"/v1/customers/{zoe}/erase", headers=idem(admin)))
    drain(db)
    assert scan(db) == []
    gone = client.get(f"/v1/customers/{zoe}/timeline", headers=admin)
    assert gone.status_code == 410
    kept = ok(client.get(f"/v1/tickets/{ticket['id']}", headers=admin), 404)
    assert kept["type"] == "/problems/ticket-not-found"
    segment = ok(client.get("/v1/segments", headers=admin))["data"][0]
    assert segment["member_count"] == 0
