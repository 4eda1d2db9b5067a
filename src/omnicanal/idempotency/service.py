"""Look up and record idempotent responses."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from omnicanal.idempotency.tables import IdempotencyRecordRow
from omnicanal.shared.errors import InvalidInput

MAX_KEY_LENGTH = 255


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Same method, path and JSON body (whatever its whitespace or key order) -> same hash."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters "
            "(a UUID is a good choice).",
            field="Idempotency-Key",
        )
    return key


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any
    request_hash: str


def find(session: Session, api_key_id: str, key: str) -> StoredResponse | None:
    row = session.scalar(
        select(IdempotencyRecordRow).where(
            IdempotencyRecordRow.api_key_id == api_key_id,
            IdempotencyRecordRow.idempotency_key == key,
        )
    )
    if row is None:
        return None
    return StoredResponse(row.status_code, row.response_body["body"], row.request_hash)


def record(
    session: Session,
    *,
    api_key_id: str,
    key: str,
    request_hash: str,
    method: str,
    path: str,
    status_code: int,
    body: Any,
    now: datetime,
) -> None:
    session.add(
        IdempotencyRecordRow(
            api_key_id=api_key_id,
            idempotency_key=key,
            request_hash=request_hash,
            method=method,
            path=path,
            status_code=status_code,
            response_body={"body": body},
            created_at=now,
        )
    )
    session.flush()  # the unique constraint fires here, inside the caller's transaction


def purge_older_than(session: Session, cutoff: datetime) -> int:
    result = session.execute(
        delete(IdempotencyRecordRow).where(IdempotencyRecordRow.created_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def retention_cutoff(now: datetime, hours: int) -> datetime:
    return now - timedelta(hours=hours)
