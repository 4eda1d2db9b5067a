"""The retailer's routing settings, read and replaced through the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnicanal.orders.routing import RoutingConfig
from omnicanal.orders.sourcing import routing_config
from omnicanal.orders.tables import RoutingConfigRow
from omnicanal.storage.uow import UnitOfWork


def current(session: Session) -> tuple[RoutingConfig, int]:
    row = session.get(RoutingConfigRow, 1)
    return routing_config(session), row.version if row else 0


def replace_config(uow: UnitOfWork, settings: Mapping[str, Any]) -> tuple[RoutingConfig, int]:
    config = RoutingConfig.parse(settings)  # 422 naming the setting at fault; nothing saved
    row = uow.session.get(RoutingConfigRow, 1, with_for_update=True)
    if row is None:
        row = RoutingConfigRow(id=1, settings=config.as_dict(), version=1, updated_at=uow.now())
        uow.session.add(row)
    else:
        row.settings = config.as_dict()
        row.version += 1
        row.updated_at = uow.now()
    return config, row.version
