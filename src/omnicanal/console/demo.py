"""Well-known console users of the demo retailer: head office and one associate per store.

Like the demo API keys they exist only in a database the demo seeded; never in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from omnicanal.console.tables import ConsoleUserRow
from omnicanal.console.users import create_user
from omnicanal.locations.tables import LocationRow
from omnicanal.storage.database import Database

DEMO_DOMAIN = "demo.omnicanal.local"
DEMO_PASSWORD = "omnicanal-demo"


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    role: str
    store: str | None  # the store's name, for associates
    password: str


def create_demo_users(db: Database) -> list[DemoUser]:
    """Head office (``siege@…``, in French) and ``<store code>@…`` for every active store."""
    created = []
    with db.uow() as uow:
        create_user(
            uow,
            email=f"siege@{DEMO_DOMAIN}",
            display_name="Siège (démo)",
            password=DEMO_PASSWORD,
            role="head_office",
            language="fr",
        )
        created.append(DemoUser(f"siege@{DEMO_DOMAIN}", "head_office", None, DEMO_PASSWORD))
        stores = uow.session.execute(
            select(LocationRow.id, LocationRow.code, LocationRow.name)
            .where(LocationRow.kind == "store", LocationRow.status == "active")
            .order_by(LocationRow.code)
        ).all()
        for store_id, code, name in stores:
            email = f"{code.lower()}@{DEMO_DOMAIN}"
            create_user(
                uow,
                email=email,
                display_name=f"{name} (démo)",
                password=DEMO_PASSWORD,
                role="associate",
                store_id=store_id,
                language="fr",
            )
            created.append(DemoUser(email, "associate", name, DEMO_PASSWORD))
    return created


def ensure_demo_users(db: Database) -> list[DemoUser]:
    """The demo users, created once (a database seeded before the console had none)."""
    with db.read() as session:
        rows = session.execute(
            select(ConsoleUserRow.email, ConsoleUserRow.role, LocationRow.name)
            .outerjoin(LocationRow, LocationRow.id == ConsoleUserRow.store_id)
            .where(ConsoleUserRow.email.like(f"%@{DEMO_DOMAIN}"))
            .order_by(ConsoleUserRow.role.desc(), ConsoleUserRow.email)
        ).all()
    if not rows:
        return create_demo_users(db)
    return [DemoUser(email, role, store, DEMO_PASSWORD) for email, role, store in rows]
