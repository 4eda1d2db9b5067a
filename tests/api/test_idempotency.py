"""Idempotency-Key: a retried write changes nothing and returns the first answer."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnicanal.auth.tables import ApiKeyRow
from omnicanal.storage.database import Database
from tests.conftest import MakeKey


def _count_keys(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)


def test_same_key_same_body_replays_the_first_response(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    headers = {**admin, "Idempotency-Key": "k-1"}
    body = {"name": "Till 1", "channel": "pos"}
    first = client.post("/v1/keys", json=body, headers=headers)
    again = client.post("/v1/keys", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count_keys(db) == 2  # the admin key and one till key


def test_same_key_other_body_is_422_and_changes_nothing(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    headers = {**admin, "Idempotency-Key": "k-2"}
    client.post("/v1/keys", json={"name": "A", "channel": "web"}, headers=headers)
    other = client.post("/v1/keys", json={"name": "B", "channel": "web"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert _count_keys(db) == 2


def test_channels_that_retry_must_send_a_key(
    client: TestClient, make_key: MakeKey, db: Database
) -> None:
    pos_admin = make_key("pos", scopes=["keys:manage"])
    response = client.post("/v1/keys", json={"name": "x", "channel": "pos"}, headers=pos_admin)
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert _count_keys(db) == 1


def test_concurrent_retries_with_one_key_create_once(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    headers = {**admin, "Idempotency-Key": "k-race"}
    body = {"name": "Racing till", "channel": "pos"}
    answers: list[int] = []
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        r = client.post("/v1/keys", json=body, headers=headers)
        answers.append(r.status_code)
        ids.append(r.json()["id"])

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [201] * 8
    assert len(set(ids)) == 1
    assert _count_keys(db) == 2
