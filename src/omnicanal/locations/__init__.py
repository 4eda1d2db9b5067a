"""Locations: stores, warehouses and relay points, with coordinates and capabilities."""
