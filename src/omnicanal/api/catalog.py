"""/v1 routes for catalog."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["catalog"])
