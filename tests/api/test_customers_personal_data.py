"""Export and erasure through the API: after erasure no table and no kept event holds the data."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnicanal.customers import personal_data, service
from omnicanal.customers.model import ConsentStatus, Purpose, normalise_identifiers
from omnicanal.customers.tables import CustomerConsentRow, CustomerProfileRow
from omnicanal.events.outbox import write_to_outbox
from omnicanal.events.tables import OutboxEventRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.base import Base
from omnicanal.storage.database import Database
from tests.conftest import MakeKey

EMAIL = "Zoe.Martin@Example.fr"
PERSONAL = [
    "zoe.martin@example.fr",
    "+33612345678",
    "0612345678",
    "Zoé",
    "Zo\\u00e9",
    "Martinez-Lopez",
    "FID00421337",
    "ios-IDFV-0042",
    hashlib.sha256(b"ios-IDFV-0042").hexdigest(),
    "login-zoe-77",
    "ck-7f3a9",
    "1987-06-05",
    "69003",
]


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def scan(db: Database) -> list[tuple[str, str]]:
    """Every (table, personal value) found anywhere in the database."""
    found: list[tuple[str, str]] = []
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                text = str(tuple(row)).lower()
                found += [(table.name, v) for v in PERSONAL if v.lower() in text]
    return found


def build_a_rich_customer(
    client: TestClient, make_key: MakeKey, clock: FrozenClock
) -> tuple[str, str]:
    pos, web, app = make_key("pos"), make_key("web"), make_key("app")
    till = client.post(
        "/v1/customers/identify",
        json={
            "identifiers": [
                {"kind": "phone", "value": "06 12 34 56 78"},
                {"kind": "loyalty_card", "value": "FID 0042 1337"},
            ],
            "attributes": {
                "given_name": "Zoé",
                "family_name": "Martinez-Lopez",
                "birth_date": "1987-06-05",
                "postal_code": "69003",
            },
            "source_ref": "pos:sale:1",
        },
        headers=idem(pos),
    ).json()
    clock.advance(minutes=5)
    web_order = client.post(
        "/v1/customers/identify",
        json={
            "identifiers": [
                {"kind": "email", "value": EMAIL},
                {"kind": "cookie", "value": "ck-7f3a9"},
            ],
            "source_ref": "web:order:2",
        },
        headers=idem(web),
    ).json()
    clock.advance(minutes=5)
    merged = client.post(
        "/v1/customers/identify",
        json={
            "identifiers": [
                {"kind": "email", "value": EMAIL},
                {"kind": "device_id", "value": "ios-IDFV-0042"},
                {"kind": "login_id", "value": "login-zoe-77"},
                {"kind": "phone", "value": "+33612345678"},
            ]
        },
        headers=idem(app),
    ).json()
    assert merged["outcome"] == "merged", merged
    pid = till["profile_id"]
    for purpose, scope in (("marketing_email", "*"), ("sms", "pos")):
        put = client.put(
            f"/v1/customers/{pid}/consents/{purpose}",
            json={
                "status": "granted",
                "source_channel": "web",
                "scope": scope,
                "source_ref": "form:signup",
            },
            headers=web,
        )
        assert put.status_code == 200, put.text
    patched = client.patch(f"/v1/customers/{pid}", json={"city": "Lyon"}, headers=idem(web))
    assert patched.status_code == 200
    return pid, web_order["profile_id"]


def test_export_holds_everything_about_the_customer(
    client: TestClient, make_key: MakeKey, admin: dict[str, str], clock: FrozenClock
) -> None:
    pid, absorbed = build_a_rich_customer(client, make_key, clock)
    export = client.get(f"/v1/customers/{absorbed}/export", headers=admin)
    assert export.status_code == 200
    data = export.json()
    assert data["profile"]["id"] == pid
    assert data["profile"]["given_name"] == "Zoé"
    assert data["absorbed_ids"] == [absorbed]
    kinds = {i["kind"]: i["value"] for i in data["identifiers"]}
    assert kinds["device_id"] == "sha256:" + hashlib.sha256(b"ios-IDFV-0042").hexdigest()
    assert "ios-IDFV-0042" not in export.text  # the raw device id was never stored
    assert {c["purpose"] for c in data["consents"]} == {"marketing_email", "sms"}
    assert len(data["consent_history"]) == 2
    assert len(data["lineage"]) == 1
    assert data["lineage"][0]["absorbed_ids"] == [absorbed]
    types = {e["type"] for e in data["events"]}
    assert {
        "customers.profile.created",
        "customers.identifier.linked",
        "customers.profile.merged",
        "customers.consent.changed",
        "customers.profile.updated",
    } <= types


def test_erasure_leaves_no_personal_value_in_any_table_or_event(
    client: TestClient,
    make_key: MakeKey,
    admin: dict[str, str],
    clock: FrozenClock,
    db: Database,
) -> None:
    pid, absorbed = build_a_rich_customer(client, make_key, clock)
    # another context's event that carries her email in its payload (an order confirmation)
    from omnicanal.events.model import Event

    class OrderPlaced(Event):
        type = "test.order.placed"

        def payload(self) -> dict[str, Any]:
            return {"order_id": "ord_1", "contact": {"email": "zoe.martin@example.fr"}}

    with db.uow() as uow:
        write_to_outbox(uow.session, OrderPlaced(), now=uow.now())
    # someone else stays untouched
    other = client.post(
        "/v1/customers/identify",
        json={"identifiers": [{"kind": "email", "value": "other@example.fr"}]},
        headers=admin,
    ).json()["profile_id"]

    before = scan(db)
    tables_before = {t for t, _ in before}
    assert {"customer_profiles", "customer_identifiers", "outbox_events"} <= tables_before
    assert "idempotency_records" in tables_before  # stored responses echo the profile

    erased = client.post(
        f"/v1/customers/{absorbed}/erase",
        json={"reason": "customer request #42"},
        headers=idem(admin),
    )
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["profile_id"] == pid
    assert sorted(report["erased_ids"]) == sorted([pid, absorbed])
    assert report["identifiers_removed"] == 6
    assert report["events_redacted"] > 0
    assert report["stored_responses_redacted"] > 0

    assert scan(db) == []
    # the tombstone stays: erased, with its date, and the erasure is announced
    with db.read() as session:
        tomb = session.get(CustomerProfileRow, pid)
        assert tomb is not None
        assert tomb.status == "erased"
        assert tomb.erased_at == clock.now()
        erased_event = session.scalars(
            select(OutboxEventRow).where(OutboxEventRow.type == "customers.profile.erased")
        ).one()
        assert sorted(erased_event.data["erased_ids"]) == sorted([pid, absorbed])
        order_event = session.scalars(
            select(OutboxEventRow).where(OutboxEventRow.type == "test.order.placed")
        ).one()
        assert order_event.data["contact"]["email"] == "[erased]"
        assert order_event.data["order_id"] == "ord_1"
    for gone in (pid, absorbed):
        response = client.get(f"/v1/customers/{gone}", headers=admin)
        assert response.status_code == 410
        assert response.json()["type"] == "/problems/customer-erased"
    assert client.get(f"/v1/customers/{pid}/export", headers=admin).status_code == 410
    decision = client.get(f"/v1/customers/{pid}/may-contact?purpose=sms", headers=admin).json()
    assert (decision["allowed"], decision["reason"]) == (False, "profile-erased")
    # erasing again is harmless
    again = client.post(f"/v1/customers/{pid}/erase", headers=admin)
    assert again.json()["already_erased"] is True
    # the other customer is untouched
    assert client.get(f"/v1/customers/{other}", headers=admin).json()["identifiers"][0][
        "value"
    ] == ("other@example.fr")
    # never resurrected: the old email now makes a new, empty profile
    back = client.post(
        "/v1/customers/identify",
        json={"identifiers": [{"kind": "email", "value": EMAIL}]},
        headers=admin,
    ).json()
    assert back["outcome"] == "created"
    assert back["profile_id"] not in (pid, absorbed)
    assert back["profile"]["given_name"] is None
    assert back["profile"]["consents"] == []
    with db.read() as session:
        tomb = session.get(CustomerProfileRow, pid)
        assert tomb is not None
        assert tomb.status == "erased"


def test_retention_sweeper_erases_inactive_profiles_and_lapses_expired_consents(
    db: Database, clock: FrozenClock
) -> None:
    def identify(*pairs: tuple[str, str]) -> str:
        with db.uow() as uow:
            return service.identify(
                uow, identifiers=normalise_identifiers(list(pairs)), channel="web"
            ).profile_id

    dormant = identify(("email", "dormant@example.fr"))
    active = identify(("email", "active@example.fr"))
    with db.uow() as uow:
        service.set_consent(
            uow,
            active,
            purpose=Purpose.MARKETING_EMAIL,
            status=ConsentStatus.GRANTED,
            source_channel="web",
            expires_at=clock.now() + timedelta(days=200),
        )
    clock.advance(days=300)
    identify(("email", "active@example.fr"))  # she came back
    clock.advance(days=100)
    with db.uow() as uow:
        result = personal_data.sweep_retention(uow, inactive_for=timedelta(days=365))
    assert result.erased_ids == [dormant]
    assert len(result.lapsed_consent_ids) == 1
    with db.read() as session:
        assert session.get(CustomerProfileRow, dormant).status == "erased"  # type: ignore[union-attr]
        assert session.get(CustomerProfileRow, active).status == "active"  # type: ignore[union-attr]
        consent = session.scalars(select(CustomerConsentRow)).one()
        assert consent.status == "lapsed"
        decision = service.may_contact(session, active, Purpose.MARKETING_EMAIL, "web", clock.now())
        assert decision.reason == "expired"
    with db.uow() as uow:  # nothing left to do
        again = personal_data.sweep_retention(uow, inactive_for=timedelta(days=365))
    assert (again.erased_ids, again.lapsed_consent_ids) == ([], [])
