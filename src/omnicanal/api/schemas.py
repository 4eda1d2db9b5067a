"""Schemas shared by every resource: list envelopes."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= to get the next page; null on the last page."
    )
