"""Idempotent channel writes: a retried request with the same key changes nothing."""
