"""Domain errors. Each names what is wrong and what the caller can do instead.

The domain never speaks HTTP: an error carries a ``kind`` and the API maps kinds to statuses and
renders RFC 9457 problem details, with ``extensions`` as extra members (sku, available, ...).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the request is malformed or breaks a rule -> 422
    NOT_FOUND = "not_found"  # -> 404
    CONFLICT = "conflict"  # the current state forbids it -> 409
    GONE = "gone"  # it existed but expired -> 410
    UNAUTHENTICATED = "unauthenticated"  # -> 401
    FORBIDDEN = "forbidden"  # -> 403


class DomainError(Exception):
    kind: ErrorKind = ErrorKind.INVALID
    code: str = "invalid-request"
    title: str = "The request cannot be processed"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        field: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if title:
            self.title = title
        self.field = field
        self.extensions = extensions


class InvalidInput(DomainError):
    kind = ErrorKind.INVALID
    code = "invalid-input"
    title = "Invalid input"


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    code = "not-found"
    title = "Not found"


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT
    code = "conflict"
    title = "Conflict with the current state"


class Gone(DomainError):
    kind = ErrorKind.GONE
    code = "gone"
    title = "No longer available"


class Unauthenticated(DomainError):
    kind = ErrorKind.UNAUTHENTICATED
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN
    code = "forbidden"
    title = "Not allowed"
