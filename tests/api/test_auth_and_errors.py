"""Keys, scopes and problem details, through the HTTP API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from omnicanal.storage.database import Database
from tests.conftest import MakeKey


def test_missing_and_wrong_keys_are_401_problems(client: TestClient) -> None:
    missing = client.get("/v1/keys")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert "Authorization: Bearer" in missing.json()["detail"]
    wrong = client.get("/v1/keys", headers={"Authorization": "Bearer ock_nope"})
    assert wrong.status_code == 401
    assert wrong.json()["type"] == "/problems/invalid-api-key"


def test_missing_scope_is_403_naming_the_scope(client: TestClient, make_key: MakeKey) -> None:
    web = make_key("web")
    response = client.get("/v1/keys", headers=web)
    assert response.status_code == 403
    assert response.json()["required_scope"] == "keys:manage"


def test_key_secret_is_shown_once_and_only_its_hash_is_stored(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = client.post("/v1/keys", json={"name": "Web shop", "channel": "web"}, headers=admin)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("ock_")
    assert "inventory:reserve" in created.json()["scopes"]
    listed = client.get("/v1/keys", headers=admin).text
    assert secret not in listed
    assert created.json()["id"] in listed
    # the new key works, then stops working once revoked
    new = {"Authorization": f"Bearer {secret}"}
    assert client.get("/health", headers=new).status_code == 200
    assert client.get("/v1/keys", headers=new).status_code == 403
    revoked = client.post(f"/v1/keys/{created.json()['id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert client.get("/v1/keys", headers=new).status_code == 401


def test_validation_error_names_the_field(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/v1/keys", json={"name": "x", "channel": "fax"}, headers=admin)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "channel"
    assert body["detail"].startswith("channel:")


def test_unknown_scope_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/keys", json={"name": "x", "channel": "web", "scopes": ["stock:steal"]}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["field"] == "scopes"
    assert "stock:steal" in response.json()["detail"]


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "omnicanal"
    assert "/v1/keys" in spec["paths"]
    assert client.get("/docs").status_code == 200
    assert client.get("/health").json()["status"] == "ok"


def test_key_list_is_paginated_and_searchable(client: TestClient, admin: dict[str, str]) -> None:
    for n in range(5):
        client.post(
            "/v1/keys",
            json={"name": f"Till {n}", "channel": "pos"},
            headers={**admin, "Idempotency-Key": f"till-{n}"},
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "q": "till", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/keys", params=params, headers=admin).json()
        seen += [k["name"] for k in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"Till {n}" for n in range(5)]
    bad = client.get("/v1/keys", params={"cursor": "garbage!"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["field"] == "cursor"


def test_a_nul_character_is_a_problem_not_a_server_error(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    """PostgreSQL stores no NUL in text: the database's refusal is bad input (422), on every
    route at once; SQLite stores it, so the order is simply not found."""
    response = client.get("/v1/orders/ord_%00x", headers=admin)
    assert response.headers["content-type"] == "application/problem+json"
    if db.is_postgres:
        assert response.status_code == 422
        assert response.json()["type"] == "/problems/invalid-value"
        assert "NUL" in response.json()["detail"]
    else:
        assert response.status_code == 404
