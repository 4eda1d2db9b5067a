"""Consumers that keep the KPI read models up to date."""

from __future__ import annotations

from omnicanal.events.consumers import Consumer

CONSUMERS: list[Consumer] = []
