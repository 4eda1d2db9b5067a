"""Create, authenticate and revoke API keys. Only a SHA-256 of each key is stored."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from omnicanal.auth.model import DEFAULT_SCOPES, Channel, Principal, check_scopes
from omnicanal.auth.tables import ApiKeyRow
from omnicanal.shared.errors import InvalidInput, NotFound, Unauthenticated
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

KEY_PREFIX = "ock_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreatedKey:
    principal: Principal
    secret: str  # shown once


def create_key(
    uow: UnitOfWork,
    *,
    name: str,
    channel: str,
    scopes: list[str] | None = None,
    store_id: str | None = None,
    secret: str | None = None,
) -> CreatedKey:
    """Create a key. ``secret`` is for the demo's well-known keys; normally it is generated."""
    try:
        chan = Channel(channel)
    except ValueError:
        raise InvalidInput(
            f"Unknown channel {channel!r}; use one of {', '.join(c.value for c in Channel)}.",
            field="channel",
        ) from None
    granted = check_scopes(scopes if scopes is not None else DEFAULT_SCOPES[chan])
    if store_id is not None:
        from omnicanal.locations.tables import LocationRow

        if uow.session.get(LocationRow, store_id) is None:
            raise NotFound(f"No location {store_id!r} to bind the key to.", field="store_id")
    if secret is None:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
    elif not secret.startswith(KEY_PREFIX) or len(secret) < 12:
        raise InvalidInput(f"A key must start with {KEY_PREFIX} and be at least 12 characters.")
    key_id = new_id("key")
    uow.session.add(
        ApiKeyRow(
            id=key_id,
            name=name,
            prefix=secret[:10],
            secret_hash=hash_secret(secret),
            channel=chan.value,
            scopes=granted,
            store_id=store_id,
            created_at=uow.now(),
        )
    )
    principal = Principal(key_id, name, chan, frozenset(granted), store_id)
    return CreatedKey(principal, secret)


def revoke_key(uow: UnitOfWork, key_id: str) -> None:
    row = uow.session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id!r}.")
    row.revoked_at = uow.now()


class KeyAuthenticator:
    """Resolves a presented key to its principal, caching briefly so a request costs no query.

    A revoked key stops working within ``ttl`` seconds.
    """

    def __init__(self, db: Database, *, ttl: float = 10.0) -> None:
        self._db = db
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise Unauthenticated(
                "Send your API key as 'Authorization: Bearer ock_…'. "
                "Create one with 'omnicanal keys create'.",
                code="missing-api-key",
            )
        digest = hash_secret(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is None or hit[0] < now:
            principal = self._load(digest)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now + self._ttl, principal)
        else:
            principal = hit[1]
        if principal is None:
            raise Unauthenticated(
                "This API key is unknown or revoked; ask an administrator for a valid key.",
                code="invalid-api-key",
            )
        return principal

    def _load(self, digest: str) -> Principal | None:
        with self._db.read() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.secret_hash == digest))
            if row is None or row.revoked_at is not None:
                return None
            return Principal(
                row.id, row.name, Channel(row.channel), frozenset(row.scopes), row.store_id
            )

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
