"""Who may call what. Every endpoint of the app (walked from ``app.routes``, never hand-listed)
against every role: no key, a garbage key, a revoked key, and a key of each channel. The scope
each route requires is read from its dependencies (``require(scope)`` / ``writer(scope)``), the
scopes each channel holds from ``auth.model.DEFAULT_SCOPES``: a key lacking the scope gets a 403
problem naming it, a key holding it is never refused for want of a scope. Then a store
associate's key acting on another store, for every store-scoped action."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from omnicanal.api.deps import get_principal
from omnicanal.auth.model import DEFAULT_SCOPES, Channel
from omnicanal.auth.service import create_key, revoke_key
from omnicanal.imports import KINDS
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.order_factories import Network, make_network

# Routes anyone may call: the health probe, the problem types, the API's own documentation.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/problems/{code}"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("HEAD", "/openapi.json"),
    ("HEAD", "/docs"),
    ("HEAD", "/docs/oauth2-redirect"),
}
# The staff web console signs its users in with a session, not an API key (its role tests are
# tests/api/test_console_*.py); here: it answers an anonymous visitor with the sign-in page only.
CONSOLE = "/console"
# The scope of a CSV import or export is the kind's (named in the path), checked in the route.
PER_KIND = {
    ("POST", "/v1/imports/{kind}"): "write_scope",
    ("GET", "/v1/exports/{kind}"): "read_scope",
}
# 403s a key holding the route's scope may still get, for another reason than that scope.
NOT_ABOUT_SCOPE = {"/problems/wrong-store", "/problems/wrong-channel", "/problems/admin-only"}
CHANNELS = [c.value for c in Channel]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with its parameters filled
    template: str
    scope: str | None  # None: public


def _scopes(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    call = dependant.call
    if call is not None and getattr(call, "__name__", "").startswith("require_"):
        scope = inspect.getclosurevars(call).nonlocals.get("scope")
        if isinstance(scope, str):
            found.add(scope)
    for sub in dependant.dependencies:
        found |= _scopes(sub)
    return found


def _authenticates(dependant: Dependant) -> bool:
    return dependant.call is get_principal or any(_authenticates(d) for d in dependant.dependencies)


def endpoints(app: FastAPI) -> Iterator[Endpoint]:
    """Every operation of the app with the scope it requires; a route that authenticates but
    declares no scope (other than the CSV kinds) fails here: it would be a hole."""
    for route in iter_route_contexts(app.routes):
        dependant: Dependant | None = getattr(route, "dependant", None)
        template = route.path or ""
        if template == CONSOLE or template.startswith(f"{CONSOLE}/"):
            continue  # the staff console: its own sign-in, see the test below
        for method in sorted(route.methods or ()):
            if (method, template) in PUBLIC:
                continue
            assert dependant is not None, f"{method} {template}: no dependencies to check"
            scopes = _scopes(dependant)
            if (method, template) in PER_KIND:
                for name, kind in KINDS.items():
                    yield Endpoint(
                        method,
                        template.replace("{kind}", name),
                        template,
                        getattr(kind, PER_KIND[(method, template)]),
                    )
                continue
            assert _authenticates(dependant), f"{method} {template} answers without a key"
            assert len(scopes) == 1, f"{method} {template} declares scopes {scopes}"
            path = template
            for param in dependant.path_params:
                path = path.replace("{" + param.name + "}", "zz-none")
            yield Endpoint(method, path, template, scopes.pop())


def holds(channel: str, scope: str) -> bool:
    granted = DEFAULT_SCOPES[Channel(channel)]
    return "*" in granted or scope in granted


def _second_requirement(response: Any, channel: str) -> bool:
    """A 403 a key holding the route's scope may still get: a store-bound key naming another
    location, an admin-only action, or a second scope the route checks (reviewing duplicates
    also reads profiles) that this channel indeed lacks."""
    if response.status_code != 403:
        return False
    body = response.json()
    if body["type"] == "/problems/missing-scope":
        return not holds(channel, body["required_scope"])
    return body["type"] in NOT_ABOUT_SCOPE


def call(client: TestClient, e: Endpoint, headers: dict[str, str]) -> Any:
    headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    if e.method in {"POST", "PUT", "PATCH"}:
        if e.template == "/v1/imports/{kind}":
            return client.request(
                e.method, e.path, headers={**headers, "Content-Type": "text/csv"}, content=b""
            )
        return client.request(e.method, e.path, headers=headers, json={})
    return client.request(e.method, e.path, headers=headers)


def is_problem(response: Any, status: int) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and body["status"] == status
        and all(body.get(k) for k in ("type", "title", "detail"))
    )


def test_the_matrix_covers_every_endpoint(client: TestClient) -> None:
    found = list(endpoints(client.app))  # type: ignore[arg-type]
    templates = {e.template for e in found}
    assert len({(e.method, e.template) for e in found}) > 150
    for must in ("/v1/orders", "/v1/tills/sales:batch", "/v1/keys", "/v1/imports/{kind}"):
        assert must in templates


def test_the_console_sends_an_anonymous_visitor_to_sign_in(client: TestClient) -> None:
    for path in ("/console", "/console/", "/console/customers"):
        response = client.get(path, headers={"Authorization": "Bearer ock_garbage"})
        assert response.status_code == 200
        assert response.url.path == "/console/sign-in", path


@pytest.mark.parametrize("who", ["no key", "garbage key", "revoked key"])
def test_without_a_valid_key_every_endpoint_is_401(
    client: TestClient, db: Database, make_key: MakeKey, who: str
) -> None:
    headers: dict[str, str] = {}
    if who == "garbage key":
        headers = {"Authorization": "Bearer ock_not_a_key_at_all"}
    elif who == "revoked key":
        with db.uow() as uow:
            created = create_key(uow, name="leaver", channel="admin")
        with db.uow() as uow:
            revoke_key(uow, created.principal.key_id)
        headers = {"Authorization": f"Bearer {created.secret}"}
    wrong = []
    for e in endpoints(client.app):  # type: ignore[arg-type]
        response = call(client, e, headers)
        if not is_problem(response, 401):
            wrong.append(f"{e.method} {e.path}: {response.status_code}")
    assert wrong == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_gets_exactly_its_scopes(
    client: TestClient, db: Database, make_key: MakeKey, channel: str
) -> None:
    store = make_network(db).rivoli
    headers = make_key(channel, store_id=store if channel == "pos" else None)
    wrong = []
    for e in endpoints(client.app):  # type: ignore[arg-type]
        assert e.scope is not None
        response = call(client, e, headers)
        if holds(channel, e.scope):
            refused = response.status_code in (401, 403)
            if refused and not _second_requirement(response, channel):
                wrong.append(f"{e.method} {e.path} ({e.scope}): {response.text[:160]}")
        elif not (is_problem(response, 403) and response.json()["required_scope"] == e.scope):
            wrong.append(f"{e.method} {e.path} without {e.scope}: {response.status_code}")
    assert wrong == []


# ---------------------------------------------------------------------------------------------
# A store associate's key acts on its own store only
# ---------------------------------------------------------------------------------------------


class Stores:
    """Rivoli's till key against Bastille's stock, orders, returns, promotions, points, tills."""

    def __init__(self, client: TestClient, db: Database, make_key: MakeKey, net: Network) -> None:
        self.client = client
        self.net = net
        self.admin = make_key("admin")
        self.web = make_key("web")
        scopes = [*DEFAULT_SCOPES[Channel.POS], "promotions:manage"]
        self.rivoli = make_key("pos", store_id=net.rivoli, scopes=scopes)
        self.bastille = make_key("pos", store_id=net.bastille, scopes=scopes)

    def send(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
        return self.client.request(
            method,
            path,
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            json=body,
        )

    def ok(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
        response = self.send(method, path, headers, body)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response.json()


@pytest.fixture
def stores(client: TestClient, db: Database, make_key: MakeKey) -> Stores:
    return Stores(client, db, make_key, make_network(db))


def _wrong_store(response: Any) -> bool:
    return is_problem(response, 403) and response.json()["type"] == "/problems/wrong-store"


def test_an_associate_cannot_act_on_another_store(stores: Stores) -> None:
    s, b, r = stores, stores.net.bastille, stores.net.rivoli
    lines = [{"sku": "SOCKS", "quantity": 1}]
    # things that already exist at Bastille
    held = s.ok(
        "POST",
        "/v1/reservations",
        s.admin,
        {"owner_type": "cart", "owner_id": "crt_b", "location_id": b, "lines": lines},
    )
    reservation = held["reservations"][0]["id"] if "reservations" in held else held["id"]
    transfer = s.ok(
        "POST",
        "/v1/transfers",
        s.admin,
        {"from_location_id": r, "to_location_id": b, "lines": lines},
    )
    s.ok("POST", f"/v1/transfers/{transfer['id']}/ship", s.admin, {})
    order = s.ok(
        "POST",
        "/v1/orders",
        s.web,
        {
            "method": "click_and_collect",
            "location_id": b,
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
            "contact": {"email": "buyer@example.fr"},
        },
    )
    group = order["groups"][0]["id"]
    promotion = s.ok(
        "POST",
        "/v1/promotions",
        s.bastille,
        {"name": "Bastille socks", "actions": [{"kind": "free_shipping"}]},
    )
    account = s.ok("POST", "/v1/loyalty/accounts", s.admin, {"card": "BASTILLE-0001"})
    s.ok(
        "POST",
        "/v1/loyalty/earn",
        s.bastille,
        {"external_ref": "B-1", "amount": "50.00", "card": "BASTILLE-0001"},
    )
    redemption = s.ok(
        "POST",
        f"/v1/loyalty/accounts/{account['id']}/redemptions",
        s.bastille,
        {"points": 10, "currency": "EUR", "purpose": "payment"},
    )
    sync = {
        "store_id": b,
        "till_id": "B1",
        "sales": [
            {
                "sale_id": "B1-1",
                "sold_at": "2026-11-23T08:00:00Z",
                "lines": [{"sku": "CAP", "quantity": 1, "unit_price": "25.00"}],
            }
        ],
    }
    conflict = s.ok("POST", "/v1/tills/sales:batch", s.bastille, sync)["sales"][0]
    conflict_id = conflict["stock_conflicts"][0]["id"]  # Bastille holds no caps

    attempts: list[tuple[str, str, Any]] = [
        (
            "POST",
            "/v1/reservations",
            {"owner_type": "cart", "owner_id": "crt_x", "location_id": b, "lines": lines},
        ),
        ("POST", f"/v1/reservations/{reservation}/release", {}),
        ("POST", f"/v1/reservations/{reservation}/fulfil", {}),
        ("POST", "/v1/stock/receipts", {"location_id": b, "lines": lines}),
        ("POST", "/v1/stock/sales", {"location_id": b, "lines": lines}),
        ("POST", "/v1/stock/damages", {"location_id": b, "lines": lines}),
        ("POST", "/v1/stock/write-offs", {"location_id": b, "lines": lines}),
        ("POST", "/v1/stock/returns", {"location_id": b, "lines": lines, "sellable": True}),
        (
            "POST",
            "/v1/stock/adjustments",
            {"location_id": b, "sku": "SOCKS", "delta": 5, "reason": "x"},
        ),
        ("PUT", f"/v1/stock/SOCKS/{b}/settings", {"safety_stock": 0}),
        ("POST", "/v1/transfers", {"from_location_id": b, "to_location_id": r, "lines": lines}),
        ("POST", f"/v1/transfers/{transfer['id']}/receive", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/picking", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/ready", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/hand-over", {"pickup_code": "000000"}),
        ("POST", f"/v1/fulfilment-groups/{group}/resend-code", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/ship", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/deliver", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/allocate", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/decline", {}),
        ("POST", f"/v1/fulfilment-groups/{group}/no-show", {}),
        ("POST", f"/v1/orders/{order['id']}/cancel", {"reason": "changed my mind"}),
        ("GET", f"/v1/locations/{b}/pick-list", None),
        ("GET", f"/v1/locations/{b}/pickups", None),
        (
            "POST",
            "/v1/returns",
            {
                "order_id": order["id"],
                "location_id": b,
                "lines": [
                    {
                        "sku": "SHOE-42",
                        "quantity": 1,
                        "reason": "too_small",
                        "condition": "sellable",
                    }
                ],
                "outcome": "refund",
            },
        ),
        ("GET", "/v1/returns", {"location_id": b}),
        (
            "POST",
            "/v1/promotions",
            {"name": "x", "store_id": b, "actions": [{"kind": "free_shipping"}]},
        ),
        ("PATCH", f"/v1/promotions/{promotion['id']}", {"name": "hijacked"}),
        ("POST", "/v1/loyalty/earn", {"external_ref": "R-1", "amount": "10.00", "store_id": b}),
        (
            "POST",
            f"/v1/loyalty/accounts/{account['id']}/redemptions",
            {"points": 10, "currency": "EUR", "purpose": "payment", "store_id": b},
        ),
        ("POST", f"/v1/loyalty/redemptions/{redemption['id']}/refund", {"reason": "abandoned"}),
        ("POST", "/v1/tills/sales:batch", sync),
        ("GET", "/v1/tills/conflicts", {"store_id": b}),
        ("GET", f"/v1/tills/conflicts/{conflict_id}", None),
        ("POST", f"/v1/tills/conflicts/{conflict_id}/resolve", {"note": "not ours"}),
        (
            "POST",
            "/v1/pricing/observations",
            {"sku": "SOCKS", "store_id": b, "amount": "9.90", "currency": "EUR"},
        ),
        (
            "POST",
            "/v1/recommendations/purchases",
            {
                "purchases": [
                    {
                        "external_ref": "B-9",
                        "store_id": b,
                        "occurred_at": "2026-11-23T08:00:00Z",
                        "lines": lines,
                    }
                ]
            },
        ),
        (
            "POST",
            "/v1/orders",
            {"method": "click_and_collect", "location_id": r, "store_id": b, "lines": lines},
        ),
    ]
    allowed = []
    for method, path, body in attempts:
        if method == "GET":
            response = s.client.get(path, headers=s.rivoli, params=body)
        else:
            response = s.send(method, path, s.rivoli, body)
        if not _wrong_store(response):
            allowed.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
    assert allowed == []
    # and nothing moved at Bastille meanwhile
    level = s.client.get(f"/v1/locations/{b}/stock", headers=s.admin).json()["data"]
    assert {x["sku"]: x["on_hand"] for x in level} == {"SHOE-42": 4, "SOCKS": 1}


# ---------------------------------------------------------------------------------------------
# Webhooks: what a receiver accepts is what omnicanal signed, fresh
# ---------------------------------------------------------------------------------------------


def test_a_receiver_refuses_tampered_stale_or_foreign_webhooks(
    client: TestClient, db: Database, make_key: MakeKey
) -> None:
    import httpx2

    from omnicanal.events import webhooks
    from omnicanal.events.dispatch import drain
    from tests.event_helpers import ping, webhook_receiver

    admin = make_key("admin")
    policy = webhooks.SenderPolicy(timeout=2, max_attempts=1, backoff_base=timedelta(seconds=1))
    with webhook_receiver() as receiver, httpx2.Client() as http:
        created = client.post(
            "/v1/webhooks",
            headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
            json={"url": receiver.url, "event_types": ["tests.*"]},
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        ping(db, 1)
        drain(db)
        assert webhooks.send_due(db, http, policy) == 1
    [delivery] = receiver.requests
    body, header = delivery["body"], delivery["headers"]["omnicanal-signature"]
    now = db.clock.now().timestamp()
    signed_at = int(header.split(",")[0].removeprefix("t="))
    assert abs(signed_at - now) < 5  # signed when sent, with the server's clock
    assert webhooks.verify(secret, header, body, now=now)
    tampered = body.replace(b'"n": 1', b'"n": 2').replace(b'"n":1', b'"n":2')
    assert tampered != body
    assert not webhooks.verify(secret, header, tampered, now=now)
    assert not webhooks.verify(secret, header, body, now=now + 301)  # replayed 5 min later
    assert not webhooks.verify(secret, header, body, now=now - 301)  # from the future
    assert not webhooks.verify("whsec_someone_else", header, body, now=now)
    resigned = webhooks.sign("whsec_attacker", body, signed_at)
    assert not webhooks.verify(secret, resigned, body, now=now)
    for garbage in ("", "t=abc,v1=00", "v1=" + header.split("v1=")[1], "t=1"):
        assert not webhooks.verify(secret, garbage, body, now=now)
