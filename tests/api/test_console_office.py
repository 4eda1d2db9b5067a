"""Head office through the console: the KPI dashboard and its SVG chart, the price audit,
routing rules, the review queues (duplicates, returns) and pilot stores against control."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnicanal.analytics.pilots import create_pilot
from omnicanal.analytics.rollup import bump
from omnicanal.customers.duplicate_tables import DuplicateCandidateRow
from omnicanal.customers.model import Identifier
from omnicanal.customers.service import identify
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from tests.browser.console_world import ConsoleShop, make_console_shop, post_form, sign_in
from tests.conftest import T0, MakeKey
from tests.return_factories import delivered_order

TODAY = T0.date()


@pytest.fixture
def shop(db: Database) -> ConsoleShop:
    return make_console_shop(db)


def sales(db: Database, day: date, channel: str, store: str | None, amounts: list[int]) -> None:
    """Sales as the analytics consumers count them: one rollup per day, channel and store."""
    with db.uow() as uow:
        bump(
            uow.session,
            "sale",
            day,
            channel=channel,
            store_id=store,
            currency="EUR",
            n=len(amounts),
            total=sum(amounts),
        )


def marks(page: str) -> dict[str, str]:
    """The chart's bars or points: label -> the value written on it."""
    return {
        html.unescape(label): html.unescape(value)
        for label, value in re.findall(
            r'<g class="mark" data-label="([^"]*)" data-value="([^"]*)"', page
        )
    }


def test_the_dashboard_charts_revenue_per_channel_with_the_expected_numbers(
    client: TestClient, db: Database, shop: ConsoleShop
) -> None:
    sales(db, TODAY, "web", None, [10000, 5000])
    sales(db, TODAY - timedelta(days=1), "pos", shop.net.rivoli, [8990])
    sales(db, TODAY - timedelta(days=60), "pos", shop.net.rivoli, [99999])  # outside the period
    sign_in(client, shop.office)
    page = client.get("/console/dashboard", params={"kpi": "revenue", "group_by": "channel"})
    assert page.status_code == 200
    assert 'role="img"' in page.text
    assert '<title id="kpi-chart-title">Revenue by channel</title>' in page.text
    assert marks(page.text) == {"pos": "89.90 EUR", "web": "150.00 EUR"}
    tiles = dict(
        re.findall(
            r'data-kpi="(\w+)"><div class="muted">[^<]*</div><div class="tile-value">([^<]*)<',
            page.text,
        )
    )
    assert tiles["revenue"] == "239.90 EUR"
    assert tiles["order_count"] == "3"
    assert tiles["average_basket"] == "79.97 EUR"

    by_store = client.get(
        "/console/dashboard", params={"kpi": "order_count", "group_by": "store", "channel": "pos"}
    )
    assert marks(by_store.text) == {"PAR-RIVOLI": "1"}
    by_day = client.get(
        "/console/dashboard",
        params={"kpi": "revenue", "group_by": "day", "start": "2026-11-22", "end": "2026-11-24"},
    )
    assert 'class="chart line"' in by_day.text
    assert marks(by_day.text) == {"2026-11-22": "89.90 EUR", "2026-11-23": "150.00 EUR"}
    # a day without sales is a zero on the line, not a missing day
    wider = client.get(
        "/console/dashboard",
        params={"kpi": "revenue", "group_by": "day", "start": "2026-11-20", "end": "2026-11-24"},
    )
    assert marks(wider.text) == {
        "2026-11-20": "0.00 EUR",
        "2026-11-21": "0.00 EUR",
        "2026-11-22": "89.90 EUR",
        "2026-11-23": "150.00 EUR",
    }


def test_the_dashboard_in_french(client: TestClient, db: Database, shop: ConsoleShop) -> None:
    sales(db, TODAY, "web", None, [10000])
    sign_in(client, shop.office)
    post_form(
        client,
        "/console/dashboard",
        "/console/language",
        {"lang": "fr", "next": "/console/dashboard"},
    )
    page = client.get("/console/dashboard")
    assert "Tableau de bord des indicateurs" in page.text
    assert "Chiffre d&#39;affaires par canal" in page.text
    assert "Panier moyen" in page.text


def test_the_price_audit_lists_an_unjustified_till_price(
    client: TestClient, make_key: MakeKey, shop: ConsoleShop
) -> None:
    till = make_key("pos", store_id=shop.net.bastille)
    observed = client.post(
        "/v1/pricing/observations",
        json={"sku": "SHOE-42", "currency": "EUR", "amount": "84.90", "reference": "T1-7"},
        headers={**till, "Idempotency-Key": "obs-1"},
    )
    assert observed.status_code == 201, observed.text
    sign_in(client, shop.office)
    page = client.get("/console/prices", params={"unjustified": "1"})
    row = re.search(r"<tr><td>SHOE-42</td>.*?</tr>", page.text, re.S)
    assert row, page.text
    assert "PAR-BASTILLE" in row.group(0)
    assert "84.90 EUR" in row.group(0)
    assert "89.90 EUR" in row.group(0)
    assert "<td>no</td>" in row.group(0)


def test_head_office_changes_the_routing_rules(
    client: TestClient, shop: ConsoleShop, make_key: MakeKey
) -> None:
    sign_in(client, shop.office)
    form = {
        "cost_per_km_minor": "3",
        "split_penalty_minor": "700",
        "max_groups": "2",
        "no_show_after_hours": "48",
        "try_in_store_hours": "24",
        "handling_warehouse": "200",
        "handling_store": "500",
        "max_distance_km": "",
        "allow_split": "on",
        "use_optimizer": "on",
    }
    saved = post_form(client, "/console/routing", "/console/routing", form)
    assert saved.status_code == 303
    assert "Routing rules saved (version 1)." in client.get("/console/routing").text
    settings = client.get("/v1/routing/config", headers=make_key("admin")).json()["settings"]
    assert settings["no_show_after_hours"] == 48
    assert settings["handling_cost_minor"] == {"warehouse": 200, "store": 500}
    assert settings["allow_backorder"] is False
    refused = post_form(client, "/console/routing", "/console/routing", form | {"max_groups": "0"})
    assert "max_groups must be at least 1." in html.unescape(
        client.get(refused.headers["location"]).text
    )
    assert client.get("/v1/routing/config", headers=make_key("admin")).json()["version"] == 1


def test_a_return_sent_to_review_at_the_desk_is_approved_by_head_office(
    client: TestClient, db: Database, shop: ConsoleShop
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    sign_in(client, shop.rivoli)
    desk = client.get("/console/returns", params={"order": order_id})
    line = re.search(r'name="line_id" value="([^"]+)"', desk.text)
    assert line
    taken = post_form(
        client,
        f"/console/returns?order={order_id}",
        "/console/returns",
        {
            "order_id": order_id,
            "line_id": line.group(1),
            f"quantity_{line.group(1)}": "1",
            f"reason_{line.group(1)}": "changed_mind",
            f"condition_{line.group(1)}": "opened",
            "outcome": "refund",
        },
    )
    return_id = taken.headers["location"].rsplit("/", 1)[-1]
    assert "waiting for review" in client.get(taken.headers["location"]).text
    client.cookies.clear()
    sign_in(client, shop.office)
    queue = client.get("/console/reviews")
    assert return_id in queue.text
    assert "condition_changed_mind" in queue.text
    approved = post_form(
        client, "/console/reviews", f"/console/reviews/returns/{return_id}/approve", {}
    )
    assert approved.status_code == 303
    assert "Decision recorded." in client.get("/console/reviews").text
    assert return_id not in client.get("/console/reviews").text


def test_head_office_merges_a_probable_duplicate(
    client: TestClient, db: Database, shop: ConsoleShop
) -> None:
    with db.uow() as uow:
        one = identify(
            uow,
            identifiers=[Identifier("email", "zoe@example.fr")],
            channel="web",
            attributes={"given_name": "Zoé", "family_name": "Martin"},
        ).profile_id
        two = identify(
            uow,
            identifiers=[Identifier("phone", "+33612345678")],
            channel="pos",
            attributes={"given_name": "Zoe", "family_name": "Martin"},
        ).profile_id
        left, right = sorted((one, two))
        candidate = new_id("dup")
        uow.session.add(
            DuplicateCandidateRow(
                id=candidate,
                left_id=left,
                right_id=right,
                match_weight=9.5,
                match_probability=0.97,
                explanation=[{"field": "family_name", "level": "exact", "match_weight": 6.1}],
                status="open",
                found_at=T0,
                scored_at=T0,
            )
        )
    sign_in(client, shop.office)
    queue = client.get("/console/reviews")
    assert "97 %" in queue.text
    assert "family_name (exact)" in queue.text
    post_form(client, "/console/reviews", f"/console/reviews/duplicates/{candidate}/accept", {})
    with db.read() as session:
        statuses = {p.id: p.status for p in session.scalars(select(CustomerProfileRow))}
    assert sorted(statuses.values()) == ["active", "merged"]


def test_pilot_stores_are_compared_with_control_stores(
    client: TestClient, db: Database, shop: ConsoleShop
) -> None:
    net = shop.net
    with db.uow() as uow:
        pilot = create_pilot(
            uow,
            name="Endless aisle tablets",
            feature="endless-aisle",
            pilot_stores=[net.rivoli],
            control_stores=[net.bastille, net.lyon],
            starts_at=T0 - timedelta(days=10),
        )
    for offset in range(3):
        day = TODAY - timedelta(days=offset)
        sales(db, day, "pos", net.rivoli, [12000])
        sales(db, day, "pos", net.bastille, [8000])
        sales(db, day, "pos", net.lyon, [10000])
    sign_in(client, shop.office)
    listing = client.get("/console/pilots")
    assert "Endless aisle tablets" in listing.text
    assert "PAR-RIVOLI" in listing.text
    compared = client.get(
        "/console/pilots",
        params={"pilot": pilot.id, "kpi": "revenue", "start": "2026-11-21", "end": "2026-11-24"},
    )
    assert compared.status_code == 200, compared.text
    assert marks(compared.text) == {"pilot": "120.00 EUR", "control": "90.00 EUR"}
    assert 'data-testid="pilot-difference">30.00 EUR' in compared.text


def test_head_office_rejects_a_return_and_keeps_two_customers_apart(
    client: TestClient, db: Database, shop: ConsoleShop
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    sign_in(client, shop.rivoli)
    desk = client.get("/console/returns", params={"order": order_id})
    line = re.search(r'name="line_id" value="([^"]+)"', desk.text)
    assert line
    taken = post_form(
        client,
        f"/console/returns?order={order_id}",
        "/console/returns",
        {
            "order_id": order_id,
            "line_id": line.group(1),
            f"quantity_{line.group(1)}": "1",
            f"reason_{line.group(1)}": "changed_mind",
            f"condition_{line.group(1)}": "opened",
            "outcome": "refund",
        },
    )
    return_id = taken.headers["location"].rsplit("/", 1)[-1]
    with db.uow() as uow:
        one = identify(uow, identifiers=[Identifier("email", "a@example.fr")], channel="web")
        two = identify(uow, identifiers=[Identifier("email", "b@example.fr")], channel="web")
        left, right = sorted((one.profile_id, two.profile_id))
        candidate = new_id("dup")
        uow.session.add(
            DuplicateCandidateRow(
                id=candidate,
                left_id=left,
                right_id=right,
                match_weight=3.0,
                match_probability=0.6,
                explanation=[],
                status="open",
                found_at=T0,
                scored_at=T0,
            )
        )
    client.cookies.clear()
    sign_in(client, shop.office)
    rejected = post_form(
        client,
        "/console/reviews",
        f"/console/reviews/returns/{return_id}/reject",
        {"reason": "Worn, not resellable"},
    )
    assert rejected.status_code == 303
    apart = post_form(
        client, "/console/reviews", f"/console/reviews/duplicates/{candidate}/reject", {}
    )
    assert apart.status_code == 303
    queue = client.get("/console/reviews").text
    assert return_id not in queue
    assert candidate not in queue
    client.cookies.clear()
    sign_in(client, shop.rivoli)
    assert "refused" in client.get(f"/console/returns/{return_id}").text
    with db.read() as session:
        row = session.get(DuplicateCandidateRow, candidate)
        assert row is not None
        assert (row.status, row.decided_channel) == ("rejected", "admin")
        statuses = {p.status for p in session.scalars(select(CustomerProfileRow))}
    assert statuses == {"active"}
