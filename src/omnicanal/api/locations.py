"""/v1 routes for locations."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["locations"])
