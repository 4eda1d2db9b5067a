"""Well-known API keys of the demo retailer, so the README's curl tour works as written.

They exist only in a database the demo seeded; never use them in production.
"""

from __future__ import annotations

from sqlalchemy import select

from omnicanal.auth.service import create_key
from omnicanal.locations.tables import LocationRow
from omnicanal.storage.database import Database

DEMO_STORE_CODE = "PAR-RIVOLI"

# (secret, name, channel, bound to the demo store)
DEMO_KEYS: list[tuple[str, str, str, bool]] = [
    ("ock_demo_admin", "Head office (demo)", "admin", False),
    ("ock_demo_web", "Web shop (demo)", "web", False),
    ("ock_demo_app", "Mobile app (demo)", "app", False),
    ("ock_demo_pos_rivoli", "Till, Paris Rivoli (demo)", "pos", True),
    ("ock_demo_callcenter", "Call centre (demo)", "callcenter", False),
    ("ock_demo_marketplace", "Marketplace connector (demo)", "marketplace", False),
]


def create_demo_keys(db: Database) -> list[tuple[str, str, str]]:
    with db.uow() as uow:
        store_id = uow.session.scalar(
            select(LocationRow.id).where(LocationRow.code == DEMO_STORE_CODE)
        )
        created = []
        for secret, name, channel, bound in DEMO_KEYS:
            create_key(
                uow, name=name, channel=channel, store_id=store_id if bound else None, secret=secret
            )
            created.append((channel, name, secret))
    return created
