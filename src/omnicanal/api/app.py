"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from omnicanal import __version__
from omnicanal.api import (
    analytics,
    carts,
    catalog,
    customer_duplicates,
    customer_timeline,
    customers,
    events,
    imports,
    inventory,
    keys,
    locations,
    loyalty,
    notifications,
    orders,
    pricing,
    promotions,
    recommendations,
    returns,
    segments,
    tickets,
    tills,
    webhooks,
)
from omnicanal.api.deps import DbDep
from omnicanal.api.problems import install_problem_handlers
from omnicanal.auth.service import KeyAuthenticator
from omnicanal.console import install_console
from omnicanal.runtime import BackgroundRunner
from omnicanal.settings import Settings, get_settings
from omnicanal.storage.database import Database
from omnicanal.workers import background_workers

DESCRIPTION = """
The one source of truth behind every sales channel: catalogue and prices, real-time stock per
location, reservations that never oversell, and an event stream with signed webhooks.

Authenticate with `Authorization: Bearer ock_…`. Every POST accepts an `Idempotency-Key`.
Errors are RFC 9457 problem details (`application/problem+json`). Lists are cursor-paginated.
"""


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    database = db or Database(
        settings.database_url, pool_size=settings.db_pool_size, echo=settings.sql_echo
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner: BackgroundRunner | None = None
        if settings.run_background_workers:
            runner = BackgroundRunner(background_workers(database, settings))
            runner.start()
        try:
            yield
        finally:
            if runner:
                runner.stop()
            if db is None:
                database.dispose()

    app = FastAPI(
        title="omnicanal",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.db = database
    app.state.settings = settings
    app.state.authenticator = KeyAuthenticator(database, ttl=settings.api_key_cache_seconds)
    install_problem_handlers(app)

    @app.get("/health", tags=["health"])
    def health(database: DbDep) -> dict[str, str]:
        with database.read() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "database": database.dialect, "version": __version__}

    @app.get("/problems/{code}", tags=["health"], summary="What a problem type means")
    def problem_type(code: str) -> dict[str, str]:
        """Every problem's ``type`` is ``/problems/<code>``; this explains it to a person."""
        return {
            "type": f"/problems/{code}",
            "about": "An omnicanal error. The response's 'detail' says what was wrong and what "
            "to do instead; 'field' names the input at fault when there is one.",
            "reference": "/docs",
        }

    for module in (
        pricing,  # before catalog: /prices/{sku}/resolve and /history are not currencies
        catalog,
        locations,
        inventory,
        customer_duplicates,  # before customers: /customers/duplicates is not a customer id
        notifications,  # before customers: /customers/{id}/messages is the delivery log
        customers,
        customer_timeline,  # /customers/{id}/timeline, /activities
        segments,  # /segments, /customers/{id}/attributes and /purchases
        tickets,
        carts,
        orders,
        returns,
        recommendations,
        promotions,
        loyalty,
        events,
        webhooks,
        keys,
        imports,
        tills,
        analytics,
    ):
        app.include_router(module.router, prefix="/v1")
    install_console(app)
    return app
