"""Imports every context's tables so ``Base.metadata`` knows them all (migrations, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData


def load_all_tables() -> MetaData:
    from omnicanal.analytics import tables as _analytics  # noqa: F401
    from omnicanal.auth import tables as _auth  # noqa: F401
    from omnicanal.carts import tables as _carts  # noqa: F401
    from omnicanal.catalog import tables as _catalog  # noqa: F401
    from omnicanal.console import tables as _console  # noqa: F401
    from omnicanal.customers import activity_tables as _customer_activity  # noqa: F401
    from omnicanal.customers import duplicate_tables as _customer_duplicates  # noqa: F401
    from omnicanal.customers import tables as _customers  # noqa: F401
    from omnicanal.events import tables as _events  # noqa: F401
    from omnicanal.idempotency import tables as _idempotency  # noqa: F401
    from omnicanal.inventory import tables as _inventory  # noqa: F401
    from omnicanal.locations import tables as _locations  # noqa: F401
    from omnicanal.loyalty import tables as _loyalty  # noqa: F401
    from omnicanal.notifications import tables as _notifications  # noqa: F401
    from omnicanal.orders import tables as _orders  # noqa: F401
    from omnicanal.pricing import tables as _pricing  # noqa: F401
    from omnicanal.promotions import tables as _promotions  # noqa: F401
    from omnicanal.recommendations import tables as _recommendations  # noqa: F401
    from omnicanal.returns import tables as _returns  # noqa: F401
    from omnicanal.service_desk import tables as _service_desk  # noqa: F401
    from omnicanal.storage.base import Base
    from omnicanal.tills import tables as _tills  # noqa: F401

    return Base.metadata
