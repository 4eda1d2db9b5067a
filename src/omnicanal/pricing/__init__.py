"""Pricing: overrides per channel, store and territory on top of base prices; one resolution
rule; price history; the consistency audit."""
