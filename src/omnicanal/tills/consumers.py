"""What tills follow from the customers context. Payloads read:

- ``customers.profile.merged``: ``survivor_id``, ``absorbed_ids``: till sales follow the survivor;
- ``customers.profile.erased``: ``profile_id``, ``erased_ids``: till sales stay for the accounts
  and the KPIs but no longer name the profile.
"""

from __future__ import annotations

from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.storage.uow import UnitOfWork
from omnicanal.tills import service

PROFILE_MERGED = "customers.profile.merged"
PROFILE_ERASED = "customers.profile.erased"


def on_event(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    if event.type == PROFILE_MERGED:
        service.follow_merge(
            uow,
            survivor_id=str(data["survivor_id"]),
            absorbed_ids=[str(i) for i in data.get("absorbed_ids") or []],
        )
    elif event.type == PROFILE_ERASED:
        erased = {str(i) for i in data.get("erased_ids") or []} | {str(data["profile_id"])}
        service.forget_customers(uow, sorted(erased))


CONSUMERS = [Consumer("tills.customers", (PROFILE_MERGED, PROFILE_ERASED), on_event)]
