"""Inventory: stock levels per SKU and location, the movement ledger, reservations, transfers."""
