"""Console users (store associates and head office)."""

from __future__ import annotations

from omnicanal.storage.base import Base  # noqa: F401
