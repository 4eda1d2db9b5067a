"""A till that was offline syncs its day over HTTP: every sale counted once however often and in
whatever order it is sent, stock conflicts reported (never hidden, never negative), bad input
refused with nothing changed, and a store's till key syncing that store only."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnicanal.events.tables import OutboxEventRow
from omnicanal.inventory.tables import StockMovementRow
from omnicanal.loyalty.tables import LoyaltyPurchaseRow
from omnicanal.recommendations.tables import RecoBasketRow
from omnicanal.storage.database import Database
from omnicanal.tills.tables import TillSaleRow, TillStockConflictRow, TillSyncBatchRow
from tests.conftest import MakeKey
from tests.inventory_checks import assert_ledger_equals_levels, level_of
from tests.order_factories import Network, make_network

BATCH = "/v1/tills/sales:batch"
CARD = "LEA-0001"


def sale(sale_id: str, at: str, *lines: tuple[str, int, str], **more: Any) -> dict[str, Any]:
    return {
        "sale_id": sale_id,
        "sold_at": at,
        "currency": "EUR",
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
        **more,
    }


# Rivoli holds SHOE-42: 2, SOCKS: 5. The till sold 3 pairs of SHOE-42 while offline.
DAY = [
    sale("T1-0001", "2026-11-22T09:15:00+01:00", ("SOCKS", 2, "9.90")),
    sale(
        "T1-0002",
        "2026-11-22T10:02:00+01:00",
        ("SHOE-42", 1, "89.90"),
        card=CARD,
        payments=[{"provider": "card", "reference": "psp-7781", "amount": "89.90"}],
    ),
    sale("T1-0003", "2026-11-22T17:40:00+01:00", ("SHOE-42", 2, "89.90"), ("SOCKS", 1, "9.90")),
]


def counts(db: Database) -> dict[str, int]:
    tables = {
        "till_sales": TillSaleRow,
        "conflicts": TillStockConflictRow,
        "batches": TillSyncBatchRow,
        "movements": StockMovementRow,
        "loyalty_purchases": LoyaltyPurchaseRow,
        "baskets": RecoBasketRow,
    }
    with db.read() as s:
        out = {
            name: s.scalar(select(func.count()).select_from(t)) or 0 for name, t in tables.items()
        }
        for kind in ("tills.sale.recorded", "tills.stock.conflict"):
            out[kind] = (
                s.scalar(
                    select(func.count())
                    .select_from(OutboxEventRow)
                    .where(OutboxEventRow.type == kind)
                )
                or 0
            )
    return out


@pytest.fixture
def net(db: Database) -> Network:
    return make_network(db)


@pytest.fixture
def till(make_key: MakeKey, net: Network) -> dict[str, str]:
    return make_key("pos", store_id=net.rivoli)


def post(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], key: str | None = None
) -> Any:
    return client.post(
        BATCH, headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())}, json=body
    )


def balance(client: TestClient, headers: dict[str, str]) -> int:
    found = client.get("/v1/loyalty/accounts", headers=headers, params={"card": CARD})
    assert found.status_code == 200, found.text
    points: int = found.json()["balance"]
    return points


def test_a_day_synced_twice_and_shuffled_counts_each_sale_once(
    client: TestClient, db: Database, net: Network, till: dict[str, str]
) -> None:
    body = {"store_id": net.rivoli, "till_id": "T1", "sales": DAY}
    first = post(client, till, body)
    assert first.status_code == 200, first.text
    out = first.json()
    assert (out["received"], out["recorded"], out["duplicates"], out["stock_conflicts"]) == (
        3,
        3,
        0,
        1,
    )
    assert [s["outcome"] for s in out["sales"]] == ["recorded"] * 3
    short = out["sales"][2]["stock_conflicts"]
    assert [(c["sku"], c["sold"], c["recorded"], c["short_by"]) for c in short] == [
        ("SHOE-42", 2, 1, 1)
    ]
    assert short[0]["id"].startswith("tsc_")
    assert out["sales"][1]["points_earned"] == 89  # 89.90 EUR, basic tier
    # the store held 2 pairs: both left, none below zero; socks 5 - 2 - 1
    assert level_of(db, "SHOE-42", net.rivoli).on_hand == 0
    assert level_of(db, "SOCKS", net.rivoli).on_hand == 2
    assert_ledger_equals_levels(db)
    after_first = counts(db)
    assert after_first["tills.sale.recorded"] == 3
    assert after_first["tills.stock.conflict"] == 1
    assert balance(client, till) == 89

    # the answer was lost: the till sends the day again, in another order, twice over
    resent = [*DAY, *DAY]
    random.Random(7).shuffle(resent)
    again = post(client, till, {**body, "sales": resent})
    assert again.status_code == 200, again.text
    outcomes = again.json()["sales"]
    assert {s["outcome"] for s in outcomes} == {"duplicate"}
    by_id = {s["sale_id"]: s for s in out["sales"]}
    for s in outcomes:
        assert s["till_sale_id"] == by_id[s["sale_id"]]["till_sale_id"]
    assert again.json()["stock_conflicts"] == 0
    assert counts(db) == {**after_first, "batches": after_first["batches"] + 1}
    assert balance(client, till) == 89
    assert_ledger_equals_levels(db)

    conflicts = client.get("/v1/tills/conflicts", headers=till, params={"resolved": "false"})
    assert conflicts.status_code == 200, conflicts.text
    [listed] = conflicts.json()["data"]
    assert (listed["sku"], listed["short_by"], listed["store_id"]) == ("SHOE-42", 1, net.rivoli)


def test_the_same_idempotency_key_replays_the_first_answer(
    client: TestClient, db: Database, net: Network, till: dict[str, str]
) -> None:
    body = {"store_id": net.rivoli, "till_id": "T1", "sales": DAY[:1]}
    first = post(client, till, body, key="sync-1")
    replay = post(client, till, body, key="sync-1")
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    other = post(client, till, {**body, "till_id": "T2"}, key="sync-1")
    assert other.status_code == 422
    assert other.json()["field"] == "Idempotency-Key"
    assert counts(db)["till_sales"] == 1


def test_a_sale_number_reused_for_another_sale_is_a_conflict_and_changes_nothing(
    client: TestClient, db: Database, net: Network, till: dict[str, str]
) -> None:
    body = {"store_id": net.rivoli, "till_id": "T1", "sales": DAY[:1]}
    assert post(client, till, body).status_code == 200
    before = counts(db)
    changed = sale("T1-0001", "2026-11-22T09:15:00+01:00", ("SOCKS", 3, "9.90"))
    alone = post(client, till, {**body, "sales": [changed]})
    assert alone.status_code == 409, alone.text
    assert alone.headers["content-type"] == "application/problem+json"
    problem = alone.json()
    assert problem["field"] == "sales[0].sale_id"
    assert problem["sales"][0]["outcome"] == "conflict"
    mixed = post(client, till, {**body, "sales": [changed, DAY[1]]})
    assert mixed.status_code == 200
    first, second = mixed.json()["sales"]
    assert first["outcome"] == "conflict"
    assert first["problem"]["type"] == "/problems/till-sale-conflict"
    assert second["outcome"] == "recorded"
    assert counts(db)["till_sales"] == before["till_sales"] + 1
    assert level_of(db, "SOCKS", net.rivoli).on_hand == 3  # the first sale's 2 only


def test_an_unknown_sku_rejects_its_sale_and_not_the_rest_of_the_day(
    client: TestClient, db: Database, net: Network, till: dict[str, str]
) -> None:
    unknown = sale("T1-0009", "2026-11-22T11:00:00Z", ("SOCKS", 1, "9.90"), ("NOPE", 1, "5.00"))
    out = post(client, till, {"store_id": net.rivoli, "till_id": "T1", "sales": [DAY[0], unknown]})
    assert out.status_code == 200, out.text
    recorded, rejected = out.json()["sales"]
    assert recorded["outcome"] == "recorded"
    assert rejected["outcome"] == "rejected"
    assert rejected["problem"]["field"] == "sales[1].lines[1].sku"
    assert rejected["problem"]["status"] == 422
    assert level_of(db, "SOCKS", net.rivoli).on_hand == 3  # the rejected sale's socks stayed


AT = "2026-11-22T11:00:00Z"
SOCK = ("SOCKS", 1, "9.90")
BAD_INPUT = [
    (sale("X-1", AT, ("NOPE", 1, "5.00")), "sales[0].lines[0].sku"),
    (sale("X-1", AT, ("SOCKS", -1, "9.90")), "sales[0].lines[0].quantity"),
    (sale("X-1", "2026-11-22T11:00:00", SOCK), "sales[0].sold_at"),  # naive: whose 11 o'clock?
    (sale("X-1", AT, ("SOCKS", 1, "-9.90")), "sales[0].lines[0].unit_price"),
    (sale("X-1", AT, ("SOCKS", 1, "9.999")), "sales[0].lines[0].unit_price"),
    (sale("X-1", "2026-12-01T11:00:00Z", SOCK), "sales[0].sold_at"),  # the future
    (sale("X-1", "2026-01-01T11:00:00Z", SOCK), "sales[0].sold_at"),  # beyond 90 days
    (sale("X-1", AT, SOCK, currency="XXX"), "sales[0].currency"),
    (sale("X-1", AT, SOCK, card=CARD, customer_id="cus_1"), "sales[0].card"),
    (sale("X-1", AT, SOCK, customer_id="cus_nobody"), "sales[0].customer_id"),
]


@pytest.mark.parametrize(("bad_sale", "field"), BAD_INPUT)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    client: TestClient,
    db: Database,
    net: Network,
    till: dict[str, str],
    bad_sale: dict[str, Any],
    field: str,
) -> None:
    before = counts(db)
    out = post(client, till, {"store_id": net.rivoli, "till_id": "T1", "sales": [bad_sale]})
    assert 400 <= out.status_code < 500, out.text
    assert out.headers["content-type"] == "application/problem+json"
    problem = out.json()
    named = problem.get("field") or problem["errors"][0]["field"]
    assert named == field
    assert counts(db) == before
    assert level_of(db, "SOCKS", net.rivoli).on_hand == 5


def test_a_store_bound_key_syncs_its_own_store_only(
    client: TestClient, db: Database, net: Network, till: dict[str, str], make_key: MakeKey
) -> None:
    other = post(client, till, {"store_id": net.bastille, "till_id": "T1", "sales": DAY[:1]})
    assert other.status_code == 403, other.text
    assert other.json()["type"] == "/problems/wrong-store"
    assert counts(db)["till_sales"] == 0
    seen = client.get("/v1/tills/conflicts", headers=till, params={"store_id": net.bastille})
    assert seen.status_code == 403
    web = post(client, make_key("web"), {"store_id": net.rivoli, "till_id": "T1", "sales": DAY})
    assert web.status_code == 403
    assert web.json()["required_scope"] == "tills:sync"
    warehouse = post(
        client, make_key("admin"), {"store_id": net.warehouse, "till_id": "T1", "sales": DAY[:1]}
    )
    assert warehouse.status_code == 404
    assert warehouse.json()["field"] == "store_id"


def test_a_conflict_is_listed_until_the_store_settles_it(
    client: TestClient, db: Database, net: Network, till: dict[str, str], make_key: MakeKey
) -> None:
    post(client, till, {"store_id": net.rivoli, "till_id": "T1", "sales": DAY})
    bastille = make_key("pos", store_id=net.bastille)
    assert client.get("/v1/tills/conflicts", headers=bastille).json()["data"] == []
    [conflict] = client.get("/v1/tills/conflicts", headers=till).json()["data"]
    refused = client.post(
        f"/v1/tills/conflicts/{conflict['id']}/resolve",
        headers={**bastille, "Idempotency-Key": str(uuid.uuid4())},
        json={"note": "not ours"},
    )
    assert refused.status_code == 403
    settled = client.post(
        f"/v1/tills/conflicts/{conflict['id']}/resolve",
        headers={**till, "Idempotency-Key": str(uuid.uuid4())},
        json={"note": "counted: a pair was delivered unscanned"},
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["resolved"] is True
    open_ = client.get("/v1/tills/conflicts", headers=till, params={"resolved": "false"})
    assert open_.json()["data"] == []
    done = client.get("/v1/tills/conflicts", headers=till, params={"resolved": "true"})
    assert [c["id"] for c in done.json()["data"]] == [conflict["id"]]
