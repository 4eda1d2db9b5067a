"""The service desk's in-process consumers (gathered by ``omnicanal.consumers``)."""

from __future__ import annotations

from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.service_desk import service
from omnicanal.storage.uow import UnitOfWork


def follow_customers(uow: UnitOfWork, event: StoredEvent) -> None:
    """Tickets follow their customer: re-pointed to the survivor of a merge, reprioritised when
    the customer's value (RFM) moves."""
    data = event.data
    if event.type == "customers.profile.merged":
        survivor = data.get("survivor_id")
        absorbed = [i for i in data.get("absorbed_ids") or [] if isinstance(i, str)]
        if isinstance(survivor, str) and absorbed:
            service.follow_merge(uow, survivor, absorbed)
            service.reprioritise_customer(uow, survivor)
    elif event.type == "customers.attributes.changed":
        profile_id = data.get("profile_id")
        if isinstance(profile_id, str):
            service.reprioritise_customer(uow, profile_id)


FOLLOW_CUSTOMERS = Consumer(
    "service_desk.follow-customers",
    ("customers.profile.merged", "customers.attributes.changed"),
    follow_customers,
)

CONSUMERS = [FOLLOW_CUSTOMERS]
