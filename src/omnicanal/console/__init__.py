"""The web console for store associates and head office (server-rendered, Jinja2)."""

from __future__ import annotations

import secrets

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from omnicanal.settings import Settings


def install_console(app: FastAPI) -> None:
    """Mounts the console's pages, static files and session handling on ``app``.

    The console is its own sub-application at ``/console``: its session cookie, CSRF checks and
    HTML error pages never touch the API, and its pages stay out of the OpenAPI document.
    """
    from omnicanal.console import pages
    from omnicanal.console.web import HERE, PREFIX

    settings: Settings = app.state.settings
    console = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    console.state.db = app.state.db
    console.state.settings = settings
    console.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_secret or secrets.token_urlsafe(32),
        session_cookie="omnicanal_console",
        max_age=int(settings.console_session_hours * 3600),
        path=PREFIX,
        same_site="lax",
        https_only=settings.public_base_url.startswith("https://"),
    )
    console.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages.install(console)
    app.mount(PREFIX, console)

    @app.get(PREFIX, include_in_schema=False)
    def console_root(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
