"""Inventory tables (levels, ledger, reservations, transfers)."""
