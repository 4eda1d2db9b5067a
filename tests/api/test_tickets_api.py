"""/v1/tickets end to end: a call-centre ticket by phone lands on the till customer's profile,
moves through its statuses, is rated, shows on the timeline; bad input and scopes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.events.dispatch import drain
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.inventory_factories import make_location


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_call_about_a_till_purchase_is_a_ticket_on_the_customers_profile(
    client: TestClient, make_key: MakeKey, clock: FrozenClock, db: Database
) -> None:
    pos, callcenter, web = make_key("pos"), make_key("callcenter"), make_key("web")
    till = ok(
        client.post(
            "/v1/customers/identify",
            json={"identifiers": [{"kind": "phone", "value": "06 12 34 56 78"}]},
            headers=idem(pos),
        )
    )["profile_id"]
    for n in range(10):  # a very good customer
        ok(
            client.post(
                f"/v1/customers/{till}/purchases",
                json={
                    "ref": f"T-{n}",
                    "occurred_at": "2026-11-20T10:00:00+00:00",
                    "total": {"amount": "300.00", "currency": "EUR"},
                },
                headers=idem(pos),
            )
        )
    body = {
        "channel": "phone",
        "phone": "+33 6 12 34 56 78",
        "subject": "The jacket's zip broke",
        "description": "Bought at the till last week.",
        "order_id": "ord_1",
    }
    key = idem(callcenter)
    ticket = ok(client.post("/v1/tickets", json=body, headers=key), 201)
    replay = client.post("/v1/tickets", json=body, headers=key)
    assert (replay.status_code, replay.json()) == (201, ticket)
    assert ticket["customer_id"] == till
    assert (ticket["status"], ticket["priority"], ticket["priority_points"]) == ("open", "high", 7)
    assert (ticket["channel"], ticket["source_channel"]) == ("phone", "callcenter")
    tid = ticket["id"]

    # the customer quotes the ticket id with her phone; someone else's email gets a 404
    mine = ok(client.get(f"/v1/tickets/{tid}", params={"phone": "0612345678"}, headers=web))
    assert mine["id"] == tid
    other = client.get(f"/v1/tickets/{tid}", params={"email": "x@example.fr"}, headers=web)
    assert other.status_code == 404
    by_phone = ok(client.get("/v1/tickets", params={"phone": "0612345678"}, headers=callcenter))
    assert [t["id"] for t in by_phone["data"]] == [tid]
    unknown = ok(client.get("/v1/tickets", params={"email": "no@example.fr"}, headers=callcenter))
    assert unknown["data"] == []

    clock.advance(hours=1)
    pending = ok(
        client.post(
            f"/v1/tickets/{tid}/status",
            json={"status": "pending", "note": "waiting for the store"},
            headers=callcenter,
        )
    )
    assert pending["status"] == "pending"
    early = client.post(f"/v1/tickets/{tid}/csat", json={"score": 5}, headers=web)
    assert (early.status_code, early.json()["type"]) == (409, "/problems/ticket-not-resolved")
    wrong = client.post(f"/v1/tickets/{tid}/status", json={"status": "closed"}, headers=callcenter)
    assert wrong.status_code == 409
    assert wrong.json()["allowed"] == ["open", "resolved"]
    resolved = ok(
        client.post(f"/v1/tickets/{tid}/status", json={"status": "resolved"}, headers=callcenter)
    )
    assert resolved["resolved_at"] is not None
    rated = ok(
        client.post(f"/v1/tickets/{tid}/csat", json={"score": 4, "comment": "quick"}, headers=web)
    )
    assert rated["csat"]["score"] == 4
    assert rated["csat"]["resolution"] == 1
    twice = client.post(f"/v1/tickets/{tid}/csat", json={"score": 5}, headers=web)
    assert twice.json()["type"] == "/problems/csat-already-recorded"
    reopened = ok(client.post(f"/v1/tickets/{tid}/status", json={"status": "open"}, headers=web))
    assert (reopened["reopen_count"], reopened["reopened_at"]) == (
        1,
        clock.now().isoformat().replace("+00:00", "Z"),
    )

    drain(db)
    entries = ok(client.get(f"/v1/customers/{till}/timeline?kind=ticket", headers=callcenter))
    assert [e["action"] for e in entries["data"]] == [
        "status_changed",
        "csat_recorded",
        "status_changed",
        "status_changed",
        "opened",
    ]
    opened = entries["data"][-1]
    assert (opened["ref"], opened["channel"], opened["payload"]["medium"]) == (
        tid,
        "callcenter",
        "phone",
    )
    assert opened["payload"]["subject"] == "The jacket's zip broke"
    assert entries["data"][1]["payload"]["score"] == 4


def test_the_queue_by_status_priority_channel_and_store(
    client: TestClient, make_key: MakeKey, db: Database
) -> None:
    lyon = make_location(db, "LYON")
    callcenter, till = make_key("callcenter"), make_key("pos", store_id=lyon)
    made = [
        ok(
            client.post(
                "/v1/tickets",
                json={"channel": "email", "email": f"c{n}@example.fr", "subject": f"Case {n}"},
                headers=callcenter,
            ),
            201,
        )
        for n in range(3)
    ]
    in_store = ok(
        client.post(
            "/v1/tickets",
            json={"channel": "store", "email": "c0@example.fr", "subject": "Exchange"},
            headers=idem(till),
        ),
        201,
    )
    assert (in_store["store_id"], in_store["customer_id"]) == (lyon, made[0]["customer_id"])
    ok(client.post(f"/v1/tickets/{made[1]['id']}/status", json={"status": "pending"},
                   headers=callcenter))  # fmt: skip

    def ids(**params: Any) -> list[str]:
        page = ok(client.get("/v1/tickets", params=params, headers=callcenter))
        return [t["id"] for t in page["data"]]

    assert ids(status="open") == [made[0]["id"], made[2]["id"], in_store["id"]]
    assert ids(status=["open", "pending"], limit=2) == [made[0]["id"], made[1]["id"]]
    assert ids(channel="store") == [in_store["id"]]
    assert ids(store_id=lyon) == [in_store["id"]]
    assert ids(priority="low", customer_id=made[0]["customer_id"]) == [
        made[0]["id"],
        in_store["id"],
    ]
    assert ids(priority="urgent") == []
    first = ok(client.get("/v1/tickets?limit=3", headers=callcenter))
    rest = ok(client.get(f"/v1/tickets?cursor={first['next_cursor']}", headers=callcenter))
    assert len(first["data"]) + len(rest["data"]) == 4
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"channel": "fax", "email": "a@example.fr", "subject": "x"}, 422, "channel"),
        ({"channel": "email", "email": "a@example.fr", "subject": ""}, 422, "subject"),
        ({"channel": "email", "email": "not-an-email", "subject": "x"}, 422, "email"),
        ({"channel": "phone", "phone": "123", "subject": "x"}, 422, "phone"),
        ({"channel": "email", "subject": "x"}, 422, "customer_id"),
        ({"channel": "store", "email": "a@example.fr", "subject": "x"}, 422, "store_id"),
        ({"channel": "email", "customer_id": "cus_nope", "subject": "x"}, 404, "customer_id"),
        (
            {"channel": "email", "customer_id": "cus_x", "email": "a@example.fr", "subject": "x"},
            422,
            "customer_id",
        ),
    ],
)
def test_bad_tickets_are_refused_and_change_nothing(
    client: TestClient, make_key: MakeKey, body: dict[str, Any], status: int, field: str
) -> None:
    callcenter = make_key("callcenter")
    response = client.post("/v1/tickets", json=body, headers=callcenter)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem.get("field", (problem.get("errors") or [{}])[0].get("field")) == field
    assert ok(client.get("/v1/tickets", headers=callcenter))["data"] == []


def test_scopes(client: TestClient, make_key: MakeKey) -> None:
    market, web = make_key("marketplace"), make_key("web")
    created = ok(
        client.post(
            "/v1/tickets",
            json={"channel": "email", "email": "buyer@example.fr", "subject": "Late"},
            headers=market,
        ),
        201,
    )
    assert client.get("/v1/tickets", headers=market).status_code == 403
    assert client.get(f"/v1/tickets/{created['id']}", headers=market).status_code == 403
    no_tickets = make_key("web", scopes=["customers:read"])
    assert client.post("/v1/tickets", json={}, headers=no_tickets).status_code == 403
    assert client.get("/v1/tickets/tkt_nope", headers=web).status_code == 404
    assert client.get("/v1/tickets?limit=201", headers=web).status_code == 422
    csat = client.post(f"/v1/tickets/{created['id']}/csat", json={"score": 6}, headers=web)
    assert csat.status_code == 422
