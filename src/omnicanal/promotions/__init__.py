"""Promotions: one engine that prices every channel's baskets; usage limits and budgets."""
