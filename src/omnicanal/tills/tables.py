"""Till sync records."""

from __future__ import annotations

from omnicanal.storage.base import Base  # noqa: F401
