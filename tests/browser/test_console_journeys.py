"""Store associates and head office in a real browser: J1's pickup served from the queue, J4's
return at the desk, the dashboard's chart, and the console in French."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from omnicanal.analytics.rollup import bump
from omnicanal.auth.service import create_key
from omnicanal.storage.database import Database
from tests.browser.console_world import PASSWORD, ConsoleShop, make_console_shop
from tests.conftest import T0
from tests.return_factories import delivered_order

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def shop(db: Database) -> ConsoleShop:
    return make_console_shop(db)


def api_key(db: Database, channel: str) -> dict[str, str]:
    with db.uow() as uow:
        created = create_key(uow, name=f"browser {channel}", channel=channel)
    return {"Authorization": f"Bearer {created.secret}"}


def sign_in(page: Page, email: str) -> None:
    page.goto("/console/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def flash(page: Page) -> str:
    return page.locator("p.flash").inner_text()


def test_j1_an_associate_serves_a_click_and_collect_order(
    page: Page, server: str, db: Database, shop: ConsoleShop
) -> None:
    web, admin = api_key(db, "web"), api_key(db, "admin")
    with httpx2.Client(base_url=server, timeout=10) as http:
        placed = http.post(
            "/v1/orders",
            json={
                "method": "click_and_collect",
                "location_id": shop.net.rivoli,
                "lines": [{"sku": "SHOE-42", "quantity": 1}],
                "contact": {"email": "zoe@example.fr"},
            },
            headers={**web, "Idempotency-Key": "browser-j1"},
        )
        assert placed.status_code == 201, placed.text
        order: dict[str, Any] = placed.json()
        group = order["groups"][0]["id"]

        sign_in(page, shop.rivoli)
        page.get_by_role("link", name="Click & collect").click()
        entry = page.locator(f'li[data-group="{group}"]')
        assert "Confirmed" in entry.inner_text()
        entry.get_by_role("button", name="Start picking").click()
        assert flash(page) == f"Order {order['id']}: Being prepared."
        page.locator(f'li[data-group="{group}"]').get_by_role(
            "button", name="Ready for pickup"
        ).click()
        assert flash(page) == f"Order {order['id']}: Ready for pickup at PAR-RIVOLI."
        # the customer's channel reads the same words, and the customer has the code
        seen = http.get(f"/v1/orders/{order['id']}", headers=admin).json()
        assert seen["status_text"] == "Ready for pickup at PAR-RIVOLI"
        code = seen["groups"][0]["pickup_code"]

        waiting = page.locator(f'li[data-group="{group}"]')
        waiting.get_by_label("Pickup code the customer shows").fill(code)
        waiting.get_by_role("button", name="Hand over").click()
        assert flash(page) == f"Handed over: order {order['id']}."
        assert "Waiting at the counter (0)" in page.content()

        done = http.get(f"/v1/orders/{order['id']}", headers=web).json()
        assert (done["status"], done["status_text"]) == ("completed", "Collected")
        stock = http.get("/v1/stock/SHOE-42", headers=admin).json()["locations"]
        rivoli = next(level for level in stock if level["location_id"] == shop.net.rivoli)
        assert rivoli["on_hand"] == 1  # two on the shelf, one left with the customer


def test_j4_an_online_order_is_returned_at_the_store_desk(
    page: Page, server: str, db: Database, shop: ConsoleShop
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    sign_in(page, shop.rivoli)
    page.get_by_role("link", name="Returns desk").click()
    page.get_by_label("Order number").fill(order_id)
    page.get_by_role("button", name="Search").click()
    page.get_by_label("Quantity RUN-42").fill("1")
    page.get_by_label("Reason RUN-42").select_option("too_small")
    page.get_by_label("A refund").check()
    page.get_by_role("button", name="Take the return").click()
    assert re.fullmatch(r"Return ret_\w+: completed\.", flash(page))
    assert page.get_by_test_id("refund").inner_text() == "60.00 EUR"
    with httpx2.Client(base_url=server, timeout=10) as http:
        stock = http.get("/v1/stock/RUN-42", headers=api_key(db, "admin")).json()["locations"]
    back = next(level for level in stock if level["location_id"] == shop.net.rivoli)
    assert back["on_hand"] == 1  # restocked where it was received, not at the warehouse


def test_head_office_opens_the_dashboard_and_the_chart_shows_the_numbers(
    page: Page, db: Database, shop: ConsoleShop
) -> None:
    with db.uow() as uow:
        bump(uow.session, "sale", T0.date(), channel="web", currency="EUR", n=2, total=15000)
        bump(
            uow.session,
            "sale",
            T0.date() - timedelta(days=1),
            channel="pos",
            store_id=shop.net.rivoli,
            currency="EUR",
            n=1,
            total=8990,
        )
    sign_in(page, shop.office)
    assert page.get_by_role("heading", level=1).inner_text() == "KPI dashboard"
    chart = page.get_by_role("img", name="Revenue by channel")
    assert chart.is_visible()
    bars = {
        mark.get_attribute("data-label"): mark.get_attribute("data-value")
        for mark in chart.locator("g.mark").all()
    }
    assert bars == {"pos": "89.90 EUR", "web": "150.00 EUR"}
    web_bar = chart.locator('g.mark[data-label="web"] rect').bounding_box()
    pos_bar = chart.locator('g.mark[data-label="pos"] rect').bounding_box()
    assert web_bar is not None
    assert pos_bar is not None
    assert web_bar["height"] > pos_bar["height"] > 0  # drawn to scale
    assert web_bar["height"] / pos_bar["height"] == pytest.approx(150.00 / 89.90, rel=0.02)
    tile = page.locator('[data-kpi="order_count"] .tile-value')
    assert tile.inner_text() == "3"
    # a filter: only the pos channel, by store
    page.get_by_label("Channel", exact=True).select_option("pos")
    page.get_by_label("Compare by").select_option("store")
    page.get_by_role("button", name="Show").click()
    store_chart = page.get_by_role("img", name="Revenue by store")
    assert store_chart.locator("g.mark").get_attribute("data-value") == "89.90 EUR"


def test_the_console_speaks_french(page: Page, shop: ConsoleShop) -> None:
    sign_in(page, shop.rivoli)
    page.get_by_role("button", name="Français").click()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Trouver un client"
    page.get_by_role("link", name="Retraits en magasin").click()
    assert page.get_by_role("heading", name="À préparer (0)").is_visible()
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
    page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", name="To prepare (0)").is_visible()


def test_an_associate_is_refused_a_head_office_page(page: Page, shop: ConsoleShop) -> None:
    sign_in(page, shop.rivoli)
    answer = page.goto("/console/dashboard")
    assert answer is not None
    assert answer.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == (
        "You are not allowed to open this page"
    )


def test_the_keyboard_reaches_the_content_first(page: Page, shop: ConsoleShop) -> None:
    sign_in(page, shop.rivoli)
    page.goto("/console/pickups")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    left = page.evaluate(
        "getComputedStyle(document.querySelector('.skip')).left"
    )  # the link is back off-screen once it has been used
    assert left.startswith("-")
