"""Every in-process event consumer, gathered from the contexts (as ``workers.py`` does for the
background workers). A context adds its own ``consumers.py`` with a ``CONSUMERS`` list."""

from __future__ import annotations

from omnicanal.events.consumers import Consumer


def all_consumers() -> list[Consumer]:
    from omnicanal.events import webhooks

    consumers: list[Consumer] = [webhooks.FANOUT]
    return consumers
