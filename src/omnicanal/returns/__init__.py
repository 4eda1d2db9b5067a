"""Returns and exchanges: return anywhere, restock where received, refund, credit or exchange."""
