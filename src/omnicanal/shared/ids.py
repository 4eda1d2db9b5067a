"""Prefixed, time-sortable identifiers (``ord_01J…``): a reader knows what an id names."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32

PREFIXES = frozenset(
    {
        "prd",  # product
        "var",  # variant
        "loc",  # location
        "res",  # reservation
        "mov",  # stock movement
        "trf",  # transfer
        "evt",  # event
        "key",  # API key
        "whk",  # webhook endpoint
        "dlv",  # webhook delivery
        "imp",  # import run
        "ord",  # order
        "orl",  # order line
        "ful",  # fulfilment group of an order
        "pay",  # payment reference recorded on an order
        "cus",  # customer
        "idn",  # customer identifier
        "cns",  # consent
        "mrg",  # profile merge (identity lineage)
        "crt",  # cart
        "crl",  # cart line
        "hof",  # cart handoff code
        "ret",  # return
        "rtl",  # return line
        "crn",  # credit note (store credit from a return)
        "dup",  # probable-duplicate candidate (customer review queue)
        "act",  # customer timeline activity
        "seg",  # customer segment
        "tkt",  # customer service ticket
        "lya",  # loyalty account
        "lym",  # loyalty points movement (an earn is a lot)
        "lyr",  # loyalty redemption (points spent as a payment or a reward)
        "lyp",  # purchase recorded for loyalty and identification KPIs
        "prm",  # promotion
        "rdm",  # promotion redemption (one promotion used by one order)
        "pov",  # price override
        "pob",  # price observation (a price a channel reports it charged)
        "msg",  # notification message (scheduled, sent or suppressed)
        "sub",  # back-in-stock subscription
        "rcb",  # basket recorded for recommendations (any channel)
        "rcv",  # recommendations co-purchase data version stamp
        "usr",  # console user (store associate or head office)
        "plt",  # pilot: a feature flagged on for some stores, compared with control stores
        "tsb",  # till sync batch (one upload of a till's offline sales)
        "tsl",  # till sale (one sale of a till, recorded once whatever the retries)
        "tsc",  # till stock conflict (a till sold more than the system held)
        "sim",  # simulation run
    }
)


def new_id(prefix: str) -> str:
    """A 26-character ULID-style id (48-bit milliseconds + 80 random bits) after ``prefix_``."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return f"{prefix}_{''.join(reversed(chars))}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_")
