"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from omnicanal.shared.errors import DomainError, ErrorKind

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

STATUS_BY_KIND = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.GONE: 410,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
}


def problem(
    status: int,
    /,
    *,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    # extension members never overwrite the standard ones
    body.update({k: v for k, v in extensions.items() if v is not None and k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """("body", "lines", 0, "quantity") -> "lines[0].quantity"."""
    out = ""
    for part in loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or str(loc[0] if loc else "body")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = STATUS_BY_KIND[exc.kind]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(
            status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            headers=headers,
            field=exc.field,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": field_name(tuple(err.get("loc", ()))),
                "in": err["loc"][0] if err.get("loc") else "body",
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return problem(
            422,
            code="validation-failed",
            title="Invalid request",
            detail=f"{first['field']}: {first['message']}{more}",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            detail = f"No resource at {request.url.path}; the API reference is at /docs."
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        else:
            detail = str(exc.detail)
        return problem(
            exc.status_code,
            code=f"http-{exc.status_code}",
            title=str(exc.detail),
            detail=detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # the database refused a value the validation let through (PostgreSQL stores no NUL
        # character in text): bad input, and the transaction rolled back, so nothing changed
        nul = "NUL" in str(exc.orig) or "0x00" in str(exc.orig)
        return problem(
            422,
            code="invalid-value",
            title="Invalid value",
            detail=(
                "A text value contains a NUL character (\\u0000 or %00), which cannot be stored; "
                "remove it and send the request again."
                if nul
                else "A value does not fit what the database can store (too long, out of range "
                "or malformed); check the request's values and send it again."
            ),
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem(
            500,
            code="internal-error",
            title="Internal error",
            detail="Something went wrong on our side; the request may be retried with the same "
            "Idempotency-Key.",
            instance=request.url.path,
        )
