"""Analytics read models and pilot flags."""

from __future__ import annotations

from omnicanal.storage.base import Base  # noqa: F401
