"""A shop with console users, and signing in through the console's own forms (shared by the
console's route tests and browser tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient
from httpx2 import Response

from omnicanal.console.users import create_user
from omnicanal.storage.database import Database
from tests.order_factories import Network
from tests.return_factories import make_shop

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class ConsoleShop:
    net: Network
    office: str  # emails
    rivoli: str
    bastille: str


def make_console_shop(db: Database) -> ConsoleShop:
    """The returns shop (Rivoli, Bastille, Lyon, a warehouse), head office and one associate in
    each of Rivoli and Bastille (Bastille's reads French)."""
    net = make_shop(db)
    with db.uow() as uow:
        create_user(
            uow,
            email="siege@example.com",
            display_name="Head Office",
            password=PASSWORD,
            role="head_office",
        )
        create_user(
            uow,
            email="lea@example.com",
            display_name="Léa (Rivoli)",
            password=PASSWORD,
            role="associate",
            store_id=net.rivoli,
        )
        create_user(
            uow,
            email="hugo@example.com",
            display_name="Hugo (Bastille)",
            password=PASSWORD,
            role="associate",
            store_id=net.bastille,
            language="fr",
        )
    return ConsoleShop(
        net=net, office="siege@example.com", rivoli="lea@example.com", bastille="hugo@example.com"
    )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    form = client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return client.post(
        "/console/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": ""},
        follow_redirects=False,
    )


def post_form(client: TestClient, page: str, action: str, data: dict[str, str]) -> Response:
    """Submit a form the way a browser does: the token comes from the page the form is on."""
    html = client.get(page)
    assert html.status_code == 200, html.text
    return client.post(
        action, data={**data, "csrf_token": csrf_of(html.text)}, follow_redirects=False
    )
