"""/v1 routes for inventory."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inventory"])
