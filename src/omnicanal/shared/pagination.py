"""Opaque keyset cursors: lists are paged by their sort key, never by offset."""

from __future__ import annotations

import base64
import json
from typing import Any

from omnicanal.shared.errors import InvalidInput

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "The cursor is not one this API returned; pass next_cursor from the previous page.",
            field="cursor",
        ) from None
    if not isinstance(values, list):
        raise InvalidInput("Malformed cursor.", field="cursor")
    return values


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    return limit
