"""Every in-process event consumer, gathered from the contexts (as ``workers.py`` does for the
background workers). A context adds its own ``consumers.py`` with a ``CONSUMERS`` list."""

from __future__ import annotations

from omnicanal.events.consumers import Consumer


def all_consumers() -> list[Consumer]:
    from omnicanal.analytics import consumers as analytics
    from omnicanal.carts import consumers as carts
    from omnicanal.customers import consumers as customers
    from omnicanal.events import webhooks
    from omnicanal.loyalty import consumers as loyalty
    from omnicanal.notifications import consumers as notifications
    from omnicanal.orders import consumers as orders
    from omnicanal.recommendations import consumers as recommendations
    from omnicanal.service_desk import consumers as service_desk
    from omnicanal.tills import consumers as tills

    consumers: list[Consumer] = [webhooks.FANOUT]
    consumers += carts.CONSUMERS
    consumers += customers.CONSUMERS
    consumers += orders.CONSUMERS
    consumers += loyalty.CONSUMERS
    consumers += service_desk.CONSUMERS
    consumers += recommendations.CONSUMERS
    consumers += notifications.CONSUMERS
    consumers += tills.CONSUMERS
    consumers += analytics.CONSUMERS
    return consumers
