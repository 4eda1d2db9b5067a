"""Carts follow the customer: when two profiles turn out to be one person, their carts become
one (the merge rule of ``model.MERGE_RULE``), in the same transaction that records the event as
processed, so a redelivered event changes nothing."""

from __future__ import annotations

from omnicanal.carts.service import follow_profile_merge
from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.storage.uow import UnitOfWork


def on_profile_merged(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    follow_profile_merge(
        uow,
        survivor_id=str(data["survivor_id"]),
        absorbed_ids=[str(i) for i in data["absorbed_ids"]],
        channel=str(data.get("channel") or "system"),
    )


CONSUMERS = [Consumer("carts.follow-merges", ("customers.profile.merged",), on_profile_merged)]
