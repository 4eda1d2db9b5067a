"""`omnicanal users create/list`, the demo's console users, and the message catalogue: every
string a template asks for exists in English and French."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from omnicanal.cli import app as cli
from omnicanal.console.demo import DEMO_PASSWORD, create_demo_users
from omnicanal.console.i18n import MESSAGES, translator
from omnicanal.customers.model import ConsentStatus
from omnicanal.returns.model import Condition, Outcome, Reason, ReturnStatus
from omnicanal.settings import get_settings
from omnicanal.storage.database import Database
from tests.browser.console_world import sign_in
from tests.inventory_factories import make_location

TEMPLATES = Path(__file__).parents[2] / "src" / "omnicanal" / "console" / "templates"


@pytest.fixture
def runner(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("OMNICANAL_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_users_create_and_list_from_the_command_line(
    runner: CliRunner, db: Database, client: TestClient
) -> None:
    store = make_location(db, "PAR-RIVOLI")
    made = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "Lea@Example.com",
            "--role",
            "associate",
            "--store",
            store,
            "--password",
            "a long enough password",
            "--name",
            "Léa",
        ],
    )
    assert made.exit_code == 0, made.output
    assert re.match(rf"usr_\w{{26}} lea@example.com associate at {store}", made.output)
    office = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "siege@example.com",
            "--role",
            "head_office",
            "--password",
            "another long password",
            "--language",
            "fr",
        ],
    )
    assert office.exit_code == 0, office.output
    refused = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "associate",
            "--password",
            "a long enough password",
        ],
    )
    assert refused.exit_code == 1
    assert "give store_id" in refused.output
    listed = runner.invoke(cli, ["users", "list"])
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert [line.split("\t")[1:5] for line in lines] == [
        ["lea@example.com", "associate", store, "en"],
        ["siege@example.com", "head_office", "-", "fr"],
    ]
    assert sign_in(client, "lea@example.com", "a long enough password").status_code == 303


def test_the_demo_has_head_office_and_one_associate_per_store(
    db: Database, client: TestClient
) -> None:
    make_location(db, "PAR-RIVOLI")
    make_location(db, "LYO-PARTDIEU")
    make_location(db, "WH-SARAN", kind="warehouse")
    users = create_demo_users(db)
    assert [(u.email, u.role) for u in users] == [
        ("siege@demo.omnicanal.local", "head_office"),
        ("lyo-partdieu@demo.omnicanal.local", "associate"),
        ("par-rivoli@demo.omnicanal.local", "associate"),
    ]
    signed = sign_in(client, "par-rivoli@demo.omnicanal.local", DEMO_PASSWORD)
    assert signed.headers["location"] == "/console/customers"
    assert "Retraits à PAR-RIVOLI" in client.get("/console/pickups").text


def test_every_key_a_template_uses_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for source in [*TEMPLATES.rglob("*.*"), *TEMPLATES.parent.rglob("*.py")]:
        text = source.read_text()
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_]+)["']\s*[,)]""", text))
    assert used, "no t() call found"
    assert sorted(used - MESSAGES.keys()) == []
    # keys built from the domain's own values
    dynamic = (
        [f"returns.reason_{r.value}" for r in Reason]
        + [f"returns.condition_{c.value}" for c in Condition]
        + [f"returns.{o.value}" for o in Outcome]
        + [f"returns.status_{s.value}" for s in ReturnStatus]
        + [f"customers.consent_{s.value}" for s in ConsentStatus]
        + [f"dashboard.by_{g}" for g in ("channel", "store", "day")]
        + [f"common.kind_{k}" for k in ("store", "warehouse")]
    )
    assert sorted(set(dynamic) - MESSAGES.keys()) == []


def test_english_and_french_differ_where_they_should_and_share_placeholders() -> None:
    en, fr = translator("en"), translator("fr")
    for key, (english, french) in MESSAGES.items():
        assert english.strip(), key
        assert french.strip(), key
        assert re.findall(r"{(\w+)}", english) == re.findall(r"{(\w+)}", french), key
    assert fr("nav.pickups") == "Retraits en magasin"
    assert en("pickups.title", store="Rivoli") == "Click & collect at Rivoli"
    assert translator("de")("nav.pickups") == "Click & collect"
    with pytest.raises(KeyError):
        en("no.such_key")


def test_an_unknown_console_page_is_a_page_not_json(client: TestClient, db: Database) -> None:
    missing = client.get("/console/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Not found" in missing.text
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/"
    css = client.get("/console/static/console.css")
    assert css.status_code == 200
    assert ":focus-visible" in css.text
