"""Browser tests: a real uvicorn server on a free port over the test database, and headless
Chromium (the system's, never downloaded) driven by Playwright."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from omnicanal.api.app import create_app
from omnicanal.settings import Settings
from omnicanal.storage.database import Database
from tests.conftest import service_unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("OMNICANAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(db: Database, settings: Settings) -> Iterator[str]:
    """The app served by uvicorn in a thread of this process, sharing the test's database."""
    port = _free_port()
    app = create_app(settings.model_copy(update={"console_secret": "browser-tests"}), db=db)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="console-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def _browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        service_unavailable(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_unavailable("Playwright for Python is not installed")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # a browser that cannot start is a missing service here
            service_unavailable(f"Chromium at {CHROMIUM} does not start: {exc}")
        yield browser
        browser.close()


@pytest.fixture
def page(_browser: Browser, server: str) -> Iterator[Page]:
    """A fresh browser context (no cookies) at tablet size, with the server as base URL."""
    context = _browser.new_context(base_url=server, viewport={"width": 1024, "height": 768})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()
