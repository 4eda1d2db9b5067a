"""The customers context's in-process consumers (gathered by ``omnicanal.consumers``)."""

from __future__ import annotations

from omnicanal.customers import attributes, timeline
from omnicanal.events.consumers import Consumer

TIMELINE = Consumer("customers.timeline", timeline.TIMELINE_EVENTS, timeline.on_event)
ATTRIBUTES = Consumer("customers.attributes", attributes.ATTRIBUTE_EVENTS, attributes.on_event)

CONSUMERS = [TIMELINE, ATTRIBUTES]
