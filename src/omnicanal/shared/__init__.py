"""Shared kernel: identifiers, money, time, errors and geography used by every context."""
