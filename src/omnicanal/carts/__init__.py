"""Carts across devices: bound to the customer, merged at login, handed off from the till."""
