"""Recommendations: items bought together, from every channel's baskets."""
