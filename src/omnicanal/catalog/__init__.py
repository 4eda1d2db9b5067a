"""Catalogue: products, variants (SKUs), channel assortment and base prices."""
