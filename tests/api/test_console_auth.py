"""Console sign-in, sessions, CSRF, roles and languages, through the FastAPI test client."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnicanal.console.tables import ConsoleUserRow
from omnicanal.console.users import create_user, password_matches
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, InvalidInput
from omnicanal.storage.database import Database
from tests.browser.console_world import (
    PASSWORD,
    ConsoleShop,
    csrf_of,
    make_console_shop,
    post_form,
    sign_in,
)

OFFICE_PAGES = [
    "/console/dashboard",
    "/console/prices",
    "/console/routing",
    "/console/reviews",
    "/console/pilots",
]
STORE_PAGES = ["/console/customers", "/console/aisle", "/console/pickups", "/console/returns"]


@pytest.fixture
def shop(db: Database) -> ConsoleShop:
    return make_console_shop(db)


def test_an_associate_signs_in_and_lands_on_the_customer_desk(
    client: TestClient, shop: ConsoleShop
) -> None:
    signed = sign_in(client, shop.rivoli)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/customers"
    cookie = signed.headers["set-cookie"].lower()
    assert cookie.startswith("omnicanal_console=")
    for attribute in ("path=/console", "httponly", "samesite=lax", "max-age=43200"):
        assert attribute in cookie
    assert "lea@example.com" not in cookie
    page = client.get("/console/customers")
    assert page.status_code == 200
    assert "Léa (Rivoli)" in page.text
    assert 'href="/console/pickups"' in page.text  # the store menu
    assert '<a href="/console/customers" aria-current="page">Customers</a>' in page.text
    assert 'href="/console/dashboard"' not in page.text


def test_a_wrong_password_or_an_unknown_email_is_refused_alike(
    client: TestClient, shop: ConsoleShop
) -> None:
    wrong = sign_in(client, shop.rivoli, "not the password")
    unknown = sign_in(client, "nobody@example.com")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "Wrong email or password." in answer.text
    assert client.get("/console/customers", follow_redirects=False).status_code == 303


def test_a_page_asks_for_sign_in_then_comes_back(client: TestClient, shop: ConsoleShop) -> None:
    asked = client.get("/console/pickups", follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fpickups"
    form = client.get(asked.headers["location"])
    back = client.post(
        "/console/sign-in",
        data={
            "email": shop.rivoli,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/console/pickups",
        },
        follow_redirects=False,
    )
    assert back.headers["location"] == "/console/pickups"


def test_sign_in_never_redirects_outside_the_console(client: TestClient, shop: ConsoleShop) -> None:
    form = client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={
            "email": shop.rivoli,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/console/"


@pytest.mark.parametrize("path", OFFICE_PAGES)
def test_every_head_office_page_is_refused_to_an_associate(
    client: TestClient, shop: ConsoleShop, path: str
) -> None:
    sign_in(client, shop.rivoli)
    refused = client.get(path)
    assert refused.status_code == 403
    assert "You are not allowed to open this page" in refused.text


@pytest.mark.parametrize("path", STORE_PAGES)
def test_head_office_opens_no_store_desk(client: TestClient, shop: ConsoleShop, path: str) -> None:
    sign_in(client, shop.office)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", OFFICE_PAGES)
def test_head_office_opens_its_pages(client: TestClient, shop: ConsoleShop, path: str) -> None:
    assert sign_in(client, shop.office).headers["location"] == "/console/dashboard"
    assert client.get(path).status_code == 200


OFFICE_ACTIONS = [
    "/console/routing",
    "/console/reviews/duplicates/dup_x/accept",
    "/console/reviews/duplicates/dup_x/reject",
    "/console/reviews/returns/ret_x/approve",
    "/console/reviews/returns/ret_x/reject",
]
STORE_ACTIONS = [
    "/console/customers/cus_x/cart/lines",
    "/console/customers/cus_x/cart/handoff",
    "/console/aisle/SHOE-42/order",
    "/console/pickups/ful_x/picking",
    "/console/pickups/ful_x/ready",
    "/console/pickups/ful_x/hand-over",
    "/console/pickups/ful_x/no-show",
    "/console/returns",
]


def test_every_head_office_action_is_refused_to_an_associate(
    client: TestClient, shop: ConsoleShop
) -> None:
    sign_in(client, shop.rivoli)
    token = csrf_of(client.get("/console/customers").text)
    for path in OFFICE_ACTIONS:
        refused = client.post(
            path, data={"csrf_token": token, "max_groups": "1"}, follow_redirects=False
        )
        assert refused.status_code == 403, path


def test_every_store_action_is_refused_to_head_office(
    client: TestClient, shop: ConsoleShop
) -> None:
    sign_in(client, shop.office)
    token = csrf_of(client.get("/console/dashboard").text)
    for path in STORE_ACTIONS:
        refused = client.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert refused.status_code == 403, path


def test_a_form_without_the_session_token_is_refused(client: TestClient, shop: ConsoleShop) -> None:
    sign_in(client, shop.office)
    for token in (None, "forged-token-forged-token-forged-token"):
        data = {"max_groups": "1"} | ({"csrf_token": token} if token else {})
        refused = client.post("/console/routing", data=data, follow_redirects=False)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    # the routing rules did not change
    assert (
        'name="max_groups" type="number" min="0" step="1" value="3"'
        in client.get("/console/routing").text
    )


def test_the_sign_in_form_itself_needs_its_token(client: TestClient, shop: ConsoleShop) -> None:
    client.get("/console/sign-in")
    refused = client.post(
        "/console/sign-in",
        data={"email": shop.rivoli, "password": PASSWORD},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_sign_out_ends_the_session(client: TestClient, shop: ConsoleShop) -> None:
    sign_in(client, shop.rivoli)
    out = post_form(client, "/console/customers", "/console/sign-out", {})
    assert out.status_code == 303
    assert client.get("/console/customers", follow_redirects=False).status_code == 303


def test_a_forged_session_cookie_is_ignored(client: TestClient, shop: ConsoleShop) -> None:
    client.cookies.set("omnicanal_console", "eyJ1aWQiOiAidXNyXzEifQ==.forged.sig", path="/console")
    assert client.get("/console/customers", follow_redirects=False).status_code == 303


def test_french_labels_for_a_french_associate(client: TestClient, shop: ConsoleShop) -> None:
    sign_in(client, shop.bastille)
    page = client.get("/console/pickups")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "Retraits à PAR-BASTILLE" in page.text
    assert "À préparer" in page.text
    assert "Se déconnecter" in page.text


def test_the_language_switch_is_kept_on_the_user(
    client: TestClient, shop: ConsoleShop, db: Database
) -> None:
    sign_in(client, shop.rivoli)
    switched = post_form(
        client, "/console/aisle", "/console/language", {"lang": "fr", "next": "/console/aisle"}
    )
    assert switched.headers["location"] == "/console/aisle"
    assert "Stock partout" in client.get("/console/aisle").text
    with db.read() as session:
        row = session.scalars(select(ConsoleUserRow).where(ConsoleUserRow.email == shop.rivoli))
        assert row.one().language == "fr"
    # a new session (another tablet) opens in French too
    client.cookies.clear()
    sign_in(client, shop.rivoli)
    assert "Trouver un client" in client.get("/console/customers").text


def test_the_sign_in_page_follows_the_browser_language(client: TestClient, db: Database) -> None:
    page = client.get("/console/sign-in", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert "Se connecter" in page.text
    assert "Sign in" in client.get("/console/sign-in", headers={"Accept-Language": "de"}).text


def test_users_keep_only_a_salted_hash(db: Database, shop: ConsoleShop) -> None:
    with db.read() as session:
        rows = list(session.scalars(select(ConsoleUserRow)))
    hashes = {row.password_hash for row in rows}
    assert len(hashes) == 3  # one salt per user: the same password, three hashes
    for row in rows:
        assert row.id.startswith("usr_")
        assert PASSWORD not in row.password_hash
        assert row.password_hash.startswith("scrypt$")
        assert password_matches(row.password_hash, PASSWORD)
        assert not password_matches(row.password_hash, PASSWORD + "!")


def test_create_user_checks_role_store_and_duplicates(db: Database, shop: ConsoleShop) -> None:
    with pytest.raises(InvalidInput, match="store_id"), db.uow() as uow:
        create_user(
            uow, email="a@example.com", display_name="A", password=PASSWORD, role="associate"
        )
    with pytest.raises(InvalidInput, match="Role"), db.uow() as uow:
        create_user(uow, email="a@example.com", display_name="A", password=PASSWORD, role="boss")
    with pytest.raises(InvalidInput, match="10 characters"), db.uow() as uow:
        create_user(
            uow, email="a@example.com", display_name="A", password="short", role="head_office"
        )
    with pytest.raises(Conflict), db.uow() as uow:
        create_user(
            uow, email="LEA@example.com", display_name="A", password=PASSWORD, role="head_office"
        )
    with pytest.raises(InvalidInput, match="not bound"), db.uow() as uow:
        create_user(
            uow,
            email="b@example.com",
            display_name="B",
            password=PASSWORD,
            role="head_office",
            store_id=shop.net.rivoli,
        )


def test_five_wrong_passwords_make_the_account_wait(
    client: TestClient, shop: ConsoleShop, clock: FrozenClock
) -> None:
    for _ in range(5):
        wrong = sign_in(client, shop.rivoli, "guess guess guess")
        assert wrong.status_code == 401
    assert "After 5 wrong passwords in a row, an account waits 15 minutes." in wrong.text
    assert sign_in(client, shop.rivoli).status_code == 401  # even the right one, for now
    clock.advance(minutes=16)
    assert sign_in(client, shop.rivoli).status_code == 303
    # a success resets the count: four more mistakes do not lock
    for _ in range(4):
        sign_in(client, shop.rivoli, "guess guess guess")
    assert sign_in(client, shop.rivoli).status_code == 303
