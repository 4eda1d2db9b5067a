"""The event feed and webhooks through the HTTP API, and the server's own workers end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from omnicanal.api.app import create_app
from omnicanal.events import webhooks
from omnicanal.events.dispatch import drain
from omnicanal.inventory import service
from omnicanal.inventory.service import Line
from omnicanal.settings import Settings
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.event_helpers import Pinged, ping, webhook_receiver
from tests.inventory_factories import make_location, make_skus

JSON = {"Content-Type": "application/json"}


def test_feed_pages_in_order_and_a_reader_never_misses_one(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    ping(db, 1, 2, 3)
    drain(db)
    first = client.get("/v1/events", headers=admin, params={"after": 0, "limit": 2}).json()
    assert [e["position"] for e in first["data"]] == [1, 2]
    assert first["next_after"] == 2
    ping(db, 4)
    drain(db)
    rest = client.get("/v1/events", headers=admin, params={"after": first["next_after"]}).json()
    assert [e["data"]["n"] for e in rest["data"]] == [3, 4]
    assert rest["head"] == 4
    assert rest["data"][0]["subject"] == "ping-3"
    one = client.get(f"/v1/events/{rest['data'][0]['id']}", headers=admin).json()
    assert one == rest["data"][0]


def test_feed_filters_by_type_pattern_and_subject(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    make_skus(db, "SHOE-42")
    store = make_location(db, "PAR-RIVOLI")
    with db.uow() as uow:
        service.receive(uow, location_id=store, lines=[Line("SHOE-42", 3)])
    ping(db, 1, 2)
    drain(db)
    tests_only = client.get("/v1/events", headers=admin, params={"type": "tests.*"}).json()
    assert {e["type"] for e in tests_only["data"]} == {Pinged.type}
    assert tests_only["next_after"] == tests_only["head"]
    by_subject = client.get("/v1/events", headers=admin, params={"subject": "ping-2"}).json()
    assert [e["data"]["n"] for e in by_subject["data"]] == [2]
    nothing = client.get("/v1/events", headers=admin, params={"type": "orders.*"}).json()
    assert nothing["data"] == []
    assert nothing["next_after"] == nothing["head"]  # the reader may skip what it scanned


def test_long_poll_returns_when_the_wait_is_over(client: TestClient, admin: dict[str, str]) -> None:
    started = time.monotonic()
    page = client.get("/v1/events", headers=admin, params={"after": 0, "wait": 0.3}).json()
    assert page["data"] == []
    assert time.monotonic() - started >= 0.3


def test_event_types_are_listed_with_their_fields(
    client: TestClient, admin: dict[str, str]
) -> None:
    types = {t["type"]: t for t in client.get("/v1/events/types", headers=admin).json()}
    reserved = types["inventory.reservation.created"]
    assert reserved["context"] == "inventory"
    assert "location_id" in reserved["fields"]


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/v1/events", "get"),
        ("/v1/events/types", "get"),
        ("/v1/events/consumers", "get"),
        ("/v1/webhooks", "get"),
        ("/v1/webhook-deliveries", "get"),
        ("/v1/webhooks", "post"),
    ],
)
def test_channel_keys_cannot_read_the_feed_or_manage_webhooks(
    client: TestClient, make_key: MakeKey, path: str, method: str
) -> None:
    web = make_key("web")
    response = client.request(
        method, path, headers=web, json={"url": "https://x.io", "event_types": ["*"]}
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.request(method, path).status_code == 401


def test_bad_feed_parameters_are_problems(client: TestClient, admin: dict[str, str]) -> None:
    for params in ({"after": -1}, {"limit": 0}, {"limit": 500}, {"wait": 99}):
        response = client.get("/v1/events", headers=admin, params=params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] in {"after", "limit", "wait"}
    assert client.get("/v1/events/evt_nope", headers=admin).status_code == 404


def test_webhook_lifecycle_through_the_api(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    created = client.post(
        "/v1/webhooks",
        headers={**admin, **JSON, "Idempotency-Key": "hook-1"},
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["tests.*"], "description": "PIM"},
    )
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    listed = client.get("/v1/webhooks", headers=admin).json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]

    bad = client.post(
        "/v1/webhooks", headers={**admin, **JSON}, json={"url": "ftp://x", "event_types": ["*"]}
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "url"
    unknown = client.post(
        "/v1/webhooks",
        headers={**admin, **JSON},
        json={"url": "https://x.io/h", "event_types": ["orderz.*"]},
    )
    assert unknown.status_code == 422
    assert "GET /v1/events/types" in unknown.json()["detail"]
    assert len(client.get("/v1/webhooks", headers=admin).json()["data"]) == 1

    paused = client.patch(f"/v1/webhooks/{hook['id']}", headers=admin, json={"active": False})
    assert paused.json()["active"] is False
    ping(db, 1)
    drain(db)
    assert client.get("/v1/webhook-deliveries", headers=admin).json()["data"] == []
    client.patch(f"/v1/webhooks/{hook['id']}", headers=admin, json={"active": True})
    rotated = client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=admin).json()
    assert rotated["secret"] != hook["secret"]


def test_dead_letters_are_listed_and_redelivered(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    policy = webhooks.SenderPolicy(max_attempts=1)
    with webhook_receiver([500]) as receiver:
        hook = client.post(
            "/v1/webhooks",
            headers={**admin, **JSON},
            json={"url": receiver.url, "event_types": [Pinged.type]},
        ).json()
        ping(db, 1)
        drain(db)
        import httpx2

        with httpx2.Client() as http:
            webhooks.send_due(db, http, policy)
            dead = client.get(
                "/v1/webhook-deliveries", headers=admin, params={"status": "dead"}
            ).json()["data"]
            assert [d["status"] for d in dead] == ["dead"]
            assert dead[0]["last_status_code"] == 500
            again = client.post(f"/v1/webhook-deliveries/{dead[0]['id']}/redeliver", headers=admin)
            assert again.json()["status"] == "pending"
            conflict = client.post(
                f"/v1/webhook-deliveries/{dead[0]['id']}/redeliver", headers=admin
            )
            assert conflict.status_code == 409
            webhooks.send_due(db, http, policy)
        per_hook = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()
        assert [d["status"] for d in per_hook["data"]] == ["delivered"]
    assert len(receiver.requests) == 2
    bad = client.get("/v1/webhook-deliveries", headers=admin, params={"status": "lost"})
    assert bad.status_code == 422


@pytest.fixture
def live_client(db: Database) -> Iterator[TestClient]:
    """The app with its background workers running, as ``omnicanal serve`` runs it."""
    settings = Settings(
        database_url=db.url,
        run_background_workers=True,
        api_key_cache_seconds=0,
        dispatcher_poll_seconds=0.05,
    )
    with TestClient(create_app(settings, db=db)) as test_client:
        yield test_client


def test_the_server_delivers_a_reservation_to_a_webhook_by_itself(
    live_client: TestClient, db: Database, make_key: MakeKey
) -> None:
    admin = make_key("admin")
    make_skus(db, "SHOE-42")
    store = make_location(db, "PAR-RIVOLI")
    with db.uow() as uow:
        service.receive(uow, location_id=store, lines=[Line("SHOE-42", 3)])
    with webhook_receiver() as receiver:
        hook = live_client.post(
            "/v1/webhooks",
            headers={**admin, **JSON},
            json={"url": receiver.url, "event_types": ["inventory.reservation.created"]},
        ).json()
        reserved = live_client.post(
            "/v1/reservations",
            headers={**make_key("web"), **JSON},
            json={
                "owner_type": "cart",
                "owner_id": "crt_live",
                "location_id": store,
                "lines": [{"sku": "SHOE-42", "quantity": 2}],
            },
        )
        assert reserved.status_code == 201, reserved.text
        deadline = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [r["json"]["type"] for r in receiver.requests] == ["inventory.reservation.created"]
    body = receiver.requests[0]
    signature = body["headers"]["omnicanal-signature"]
    assert webhooks.verify(hook["secret"], signature, body["body"], now=db.clock.now().timestamp())
    consumers = live_client.get("/v1/events/consumers", headers=admin).json()
    assert {c["name"] for c in consumers} >= {"webhooks.fanout"}
