from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class LocationRow(Base):
    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # the retailer's own store code
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)  # store | warehouse | relay_point
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | closed
    address_line1: Mapped[str] = mapped_column(String(300), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    territory: Mapped[str | None] = mapped_column(String(40))
    # {"mon": [["09:00", "19:00"]], ...}; a missing day means closed
    opening_hours: Mapped[dict[str, Any]]
    # ship | pickup | ship_from_store | reserve_and_try | curbside
    capabilities: Mapped[list[str]] = mapped_column(JSON)
    daily_order_capacity: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_locations_lat_lon", "latitude", "longitude"),)
