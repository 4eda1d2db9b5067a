"""J7 One customer, lookups, consents and bad input, end to end through the HTTP API."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnicanal.customers.tables import (
    CustomerConsentRow,
    CustomerIdentifierRow,
    CustomerProfileRow,
)
from omnicanal.events.tables import OutboxEventRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.conftest import MakeKey


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def identify(
    client: TestClient, headers: dict[str, str], *identifiers: tuple[str, str], **extra: Any
) -> dict[str, Any]:
    body = {"identifiers": [{"kind": k, "value": v} for k, v in identifiers], **extra}
    response = client.post("/v1/customers/identify", json=body, headers=idem(headers))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_j7_till_web_and_app_end_on_one_profile_with_traceable_merges(
    client: TestClient, make_key: MakeKey, admin: dict[str, str], clock: FrozenClock, db: Database
) -> None:
    pos, web, app = make_key("pos"), make_key("web"), make_key("app")
    # a till sale identified by phone
    till = identify(
        client,
        pos,
        ("phone", "06 12 34 56 78"),
        source_ref="pos:sale:LYON-3-000123",
        attributes={"given_name": "Zoé", "family_name": "Martin"},
        occurred_at=(clock.now() - timedelta(seconds=2)).isoformat(),
    )
    assert till["outcome"] == "created"
    assert till["time_to_unification_ms"] >= 2000  # the till saw her two seconds earlier
    clock.advance(minutes=10)
    # a web order by email (and the site's first-party cookie)
    order = identify(
        client,
        web,
        ("email", "Zoe.Martin@Example.fr"),
        ("cookie", "ck-7f3a"),
        source_ref="web:order:W-1001",
        attributes={"given_name": "zoe", "city": "Lyon"},
    )
    assert order["outcome"] == "created"
    assert order["profile_id"] != till["profile_id"]
    clock.advance(minutes=10)
    # an app session by device id
    session = identify(client, app, ("device_id", "ios-IDFV-0042"), source_ref="app:session:s-9")
    assert session["outcome"] == "created"
    assert len({till["profile_id"], order["profile_id"], session["profile_id"]}) == 3

    # she logs into the app with her email: app session and web order are one person
    clock.advance(minutes=1)
    login = identify(
        client,
        app,
        ("device_id", "ios-IDFV-0042"),
        ("email", "zoe.martin@example.fr"),
        source_ref="app:login:s-9",
    )
    assert login["outcome"] == "merged"
    assert login["profile_id"] == order["profile_id"]  # older than the app session
    assert login["merge"]["absorbed_ids"] == [session["profile_id"]]
    # at the till she gives her email: till and web are one person
    clock.advance(minutes=1)
    sale = identify(
        client,
        pos,
        ("phone", "+33612345678"),
        ("email", "ZOE.MARTIN@example.fr"),
        ("loyalty_card", "FID 0042 1337"),
        source_ref="pos:sale:LYON-3-000124",
    )
    assert sale["outcome"] == "merged"
    survivor = till["profile_id"]
    assert sale["profile_id"] == survivor
    assert sale["merge"]["absorbed_ids"] == [order["profile_id"]]

    # ONE profile, reachable from every old id
    for old in (order["profile_id"], session["profile_id"]):
        got = client.get(f"/v1/customers/{old}", headers=admin)
        assert got.status_code == 200
        assert got.json()["id"] == survivor
        assert got.json()["resolved_from"] == old
    profile = client.get(f"/v1/customers/{survivor}", headers=admin).json()
    kinds = {i["kind"]: i["value"] for i in profile["identifiers"]}
    assert kinds == {
        "phone": "+33612345678",
        "email": "zoe.martin@example.fr",
        "cookie": "ck-7f3a",
        "device_id": "sha256:" + hashlib.sha256(b"ios-IDFV-0042").hexdigest(),
        "loyalty_card": "FID00421337",
    }
    assert profile["given_name"] == "Zoé"  # the till outranks the web for names
    assert profile["attributes"]["city"]["value"] == "Lyon"
    assert profile["attributes"]["city"]["source"] == "web"
    assert sorted(profile["absorbed_ids"]) == sorted([order["profile_id"], session["profile_id"]])
    # lineage: which source and which identifiers caused each merge
    lineage = profile["lineage"]
    assert [(m["source_channel"], m["source_ref"]) for m in lineage] == [
        ("app", "app:login:s-9"),
        ("pos", "pos:sale:LYON-3-000124"),
    ]
    assert {c["kind"] for c in lineage[0]["caused_by"]} == {"device_id", "email"}
    assert {(c["kind"], c["profile_id"]) for c in lineage[1]["caused_by"]} == {
        ("email", order["profile_id"]),
        ("phone", survivor),
    }
    # every context hears of the merges
    with db.read() as s:
        merged = s.scalars(
            select(OutboxEventRow)
            .where(OutboxEventRow.type == "customers.profile.merged")
            .order_by(OutboxEventRow.seq)
        ).all()
        assert [(e.data["survivor_id"], e.data["absorbed_ids"]) for e in merged] == [
            (order["profile_id"], [session["profile_id"]]),
            (survivor, [order["profile_id"]]),
        ]
        active = s.scalar(
            select(func.count())
            .select_from(CustomerProfileRow)
            .where(CustomerProfileRow.status == "active")
        )
        assert active == 1
    # the associate finds her by phone, email, card or name
    for query in (
        "phone=0612345678",
        "email=Zoe.Martin@example.fr",
        "card=fid00421337",
        "q=martin",
        "q=06 12 34 56 78",
    ):
        found = client.get(f"/v1/customers?{query}", headers=pos)
        assert found.status_code == 200, found.text
        assert [c["id"] for c in found.json()["data"]] == [survivor], query
    # identity metrics: match pairs and time to unification
    metrics = client.get("/v1/customers/identity-metrics", headers=admin).json()
    pairs = {p["pair"]: p["count"] for p in metrics["pairs"]}
    assert pairs["device_id↔email"] == 1
    assert pairs["email↔phone"] == 1
    assert pairs["loyalty_card↔phone"] == 1
    by_channel = {(m["channel"], m["kind"]): m["count"] for m in metrics["matched_by_channel"]}
    assert by_channel[("pos", "phone")] == 1
    assert metrics["outcomes"] == {"created": 3, "merged": 2}
    assert metrics["time_to_unification_ms"]["count"] == 5
    assert metrics["time_to_unification_ms"]["p99"] >= 2000
    assert metrics["time_to_unification_ms"]["p50"] < 2000


def test_retried_identify_with_the_same_key_changes_nothing(
    client: TestClient, make_key: MakeKey, db: Database
) -> None:
    pos = idem(make_key("pos"))
    body = {"identifiers": [{"kind": "phone", "value": "0611223344"}]}
    first = client.post("/v1/customers/identify", json=body, headers=pos)
    again = client.post("/v1/customers/identify", json=body, headers=pos)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CustomerProfileRow)) == 1


def test_lookup_is_paginated_and_needs_a_criterion(
    client: TestClient, make_key: MakeKey, admin: dict[str, str]
) -> None:
    web = make_key("web")
    for i in range(5):
        identify(
            client,
            web,
            ("email", f"dupont{i}@example.fr"),
            attributes={"family_name": "Dupont"},
        )
    seen: list[str] = []
    cursor = None
    while True:
        url = "/v1/customers?q=dupont&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=admin).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    whole = client.get("/v1/customers", headers=admin)
    assert whole.status_code == 422
    assert whole.json()["field"] == "q"
    bad = client.get("/v1/customers?phone=12", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["field"] == "phone"


def test_patch_is_a_manual_correction_that_outranks_automatic_sources(
    client: TestClient, make_key: MakeKey
) -> None:
    pos, callcenter = make_key("pos"), make_key("callcenter")
    created = identify(
        client, pos, ("loyalty_card", "CARD1234"), attributes={"family_name": "Dupond"}
    )
    pid = created["profile_id"]
    patched = client.patch(
        f"/v1/customers/{pid}",
        json={"family_name": "Dupont", "birth_date": "1990-04-01", "city": None},
        headers=callcenter,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["family_name"] == "Dupont"
    assert patched.json()["attributes"]["birth_date"]["value"] == "1990-04-01"
    # a later till sale carrying the old spelling does not undo the correction
    identify(client, pos, ("loyalty_card", "CARD1234"), attributes={"family_name": "Dupond"})
    assert client.get(f"/v1/customers/{pid}", headers=pos).json()["family_name"] == "Dupont"
    unknown = client.patch(f"/v1/customers/{pid}", json={"shoe_size": "42"}, headers=callcenter)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "shoe_size"


def may(client: TestClient, headers: dict[str, str], pid: str, purpose: str, channel: str) -> Any:
    response = client.get(
        f"/v1/customers/{pid}/may-contact?purpose={purpose}&channel={channel}", headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def put_consent(
    client: TestClient, headers: dict[str, str], pid: str, purpose: str, **body: Any
) -> Any:
    response = client.put(f"/v1/customers/{pid}/consents/{purpose}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_consents_propagate_an_unsubscribe_from_any_channel_everywhere(
    client: TestClient, make_key: MakeKey, clock: FrozenClock
) -> None:
    web, pos, admin = make_key("web"), make_key("pos"), make_key("admin")
    pid = identify(client, web, ("email", "opt@example.fr"), ("phone", "0677889900"))["profile_id"]
    assert may(client, web, pid, "marketing_email", "web") == {
        "allowed": False,
        "reason": "no-consent-recorded",
        "profile_id": pid,
        "purpose": "marketing_email",
        "channel": "web",
        "consent_id": None,
        "legal_basis": None,
        "scope": None,
    }
    put_consent(client, web, pid, "marketing_email", status="granted", source_channel="web")
    put_consent(client, pos, pid, "sms", status="granted", source_channel="pos", scope="pos")
    put_consent(client, web, pid, "sms", status="granted", source_channel="web")
    assert may(client, web, pid, "marketing_email", "web")["allowed"] is True
    assert may(client, pos, pid, "sms", "pos")["reason"] == "granted"

    # a scoped withdrawal stays in its channel
    clock.advance(minutes=1)
    put_consent(client, pos, pid, "sms", status="withdrawn", source_channel="pos", scope="pos")
    assert may(client, pos, pid, "sms", "pos")["reason"] == "withdrawn"
    assert may(client, web, pid, "sms", "web")["allowed"] is True

    # "STOP" replied to an SMS: every marketing purpose withdrawn for every channel at once
    clock.advance(minutes=1)
    stop = client.post(
        f"/v1/customers/{pid}/unsubscribe",
        json={"source_channel": "sms", "source_ref": "sms-gateway:mo:778"},
        headers=idem(admin),
    )
    assert stop.status_code == 200, stop.text
    assert [c["consent"]["purpose"] for c in stop.json()] == ["marketing_email", "sms", "push"]
    for purpose in ("marketing_email", "sms", "push"):
        for channel in ("web", "app", "pos", "callcenter"):
            decision = may(client, web, pid, purpose, channel)
            assert decision["allowed"] is False, (purpose, channel)
            assert decision["reason"] == "withdrawn-everywhere", (purpose, channel)
    # the history is kept, newest state on the profile
    profile = client.get(f"/v1/customers/{pid}", headers=web).json()
    statuses = {(c["purpose"], c["scope"]): c["status"] for c in profile["consents"]}
    assert statuses[("marketing_email", "*")] == "withdrawn"
    assert statuses[("sms", "pos")] == "withdrawn"
    # a later explicit opt-in on one channel reopens that channel only
    clock.advance(days=1)
    put_consent(
        client, web, pid, "marketing_email", status="granted", source_channel="web", scope="web"
    )
    assert may(client, web, pid, "marketing_email", "web")["allowed"] is True
    assert may(client, web, pid, "marketing_email", "pos")["allowed"] is False


def test_consent_grants_expire(client: TestClient, make_key: MakeKey, clock: FrozenClock) -> None:
    web = make_key("web")
    pid = identify(client, web, ("email", "exp@example.fr"))["profile_id"]
    granted = put_consent(
        client,
        web,
        pid,
        "personalisation",
        status="granted",
        source_channel="app",
        expires_at=(clock.now() + timedelta(days=30)).isoformat(),
    )
    assert granted["consent"]["expires_at"].startswith("2026-12-23")
    assert may(client, web, pid, "personalisation", "app")["allowed"] is True
    clock.advance(days=31)
    assert may(client, web, pid, "personalisation", "app")["reason"] == "expired"
    default = put_consent(client, web, pid, "analytics", status="granted", source_channel="web")
    assert default["consent"]["expires_at"] is not None  # grants default to three years


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        (
            "post",
            "/v1/customers/identify",
            {
                "identifiers": [
                    {"kind": "email", "value": "ok@example.fr"},
                    {"kind": "phone", "value": "06 12"},
                ]
            },
            422,
            "identifiers[1].value",
        ),
        (
            "post",
            "/v1/customers/identify",
            {"identifiers": [{"kind": "fax", "value": "1"}]},
            422,
            "identifiers[0].kind",
        ),
        ("post", "/v1/customers/identify", {"identifiers": []}, 422, "identifiers"),
        (
            "put",
            "/v1/customers/{pid}/consents/telepathy",
            {"status": "granted", "source_channel": "web"},
            422,
            "purpose",
        ),
        (
            "put",
            "/v1/customers/{pid}/consents/sms",
            {"status": "granted", "source_channel": "web", "scope": "moon"},
            422,
            "scope",
        ),
        (
            "put",
            "/v1/customers/{pid}/consents/sms",
            {"status": "lapsed", "source_channel": "web"},
            422,
            "status",
        ),
        (
            "put",
            "/v1/customers/cus_UNKNOWN/consents/sms",
            {"status": "granted", "source_channel": "web"},
            404,
            "customer_id",
        ),
        ("get", "/v1/customers/cus_UNKNOWN", None, 404, "customer_id"),
        ("get", "/v1/customers/{pid}/may-contact?purpose=telepathy", None, 422, "purpose"),
        ("get", "/v1/customers/{pid}/may-contact?purpose=sms&channel=moon", None, 422, "channel"),
        ("patch", "/v1/customers/cus_UNKNOWN", {"city": "Nice"}, 404, "customer_id"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    client: TestClient,
    admin: dict[str, str],
    db: Database,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    field: str,
) -> None:
    pid = identify(client, admin, ("email", "base@example.fr"))["profile_id"]

    def snapshot() -> tuple[int, ...]:
        with db.read() as s:
            return tuple(
                s.scalar(select(func.count()).select_from(t)) or 0
                for t in (
                    CustomerProfileRow,
                    CustomerIdentifierRow,
                    CustomerConsentRow,
                    OutboxEventRow,
                )
            )

    before = snapshot()
    kwargs: dict[str, Any] = {"headers": admin}
    if body is not None:
        kwargs["json"] = body
    response = getattr(client, method)(path.format(pid=pid), **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem.get("field") == field or problem["errors"][0]["field"] == field
    assert snapshot() == before


def test_scopes_guard_reads_writes_and_erasure(
    client: TestClient, make_key: MakeKey, admin: dict[str, str]
) -> None:
    marketplace, web = make_key("marketplace"), make_key("web")
    linked = identify(client, marketplace, ("external:marketplace", "amz-991"))
    assert linked["profile"] is None  # it may link its buyers, not read the customer base
    assert (
        client.get(f"/v1/customers/{linked['profile_id']}", headers=marketplace).status_code == 403
    )
    erase = client.post(f"/v1/customers/{linked['profile_id']}/erase", headers=web)
    assert erase.status_code == 403
    assert erase.json()["required_scope"] == "customers:erase"
    assert client.get(f"/v1/customers/{linked['profile_id']}", headers=admin).status_code == 200
