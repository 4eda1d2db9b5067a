"""/v1/imports and /v1/exports: CSV batch exchange for every kind in ``omnicanal.imports``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from omnicanal.api.deps import DbDep, Write, get_principal, require, writer
from omnicanal.auth.model import Principal
from omnicanal.imports import csv_kind, decode_csv, run_import
from omnicanal.shared.tabular import write_csv
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["imports"])

CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "A CSV file with a header line, UTF-8.",
    }
}


class RowErrorPublic(BaseModel):
    line: int
    field: str | None
    message: str


class ImportReportPublic(BaseModel):
    kind: str
    rows: int
    created: int
    updated: int
    errors: list[RowErrorPublic]


async def import_writer(
    request: Request,
    kind: str,
    principal: Annotated[Principal, Depends(get_principal)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Write:
    """``writer(scope)`` with the scope of the kind named in the path."""
    scope = csv_kind(kind).write_scope
    dependency = writer(scope)
    write: Write = await dependency(
        request, principal=require(scope)(principal), idempotency_key=idempotency_key
    )
    return write


@router.post(
    "/imports/{kind}",
    response_model=ImportReportPublic,
    openapi_extra=CSV_BODY,
    responses={422: {"description": "Rejected: `errors` lists {line, field, message}."}},
)
async def import_csv(
    kind: str, request: Request, write: Annotated[Write, Depends(import_writer)]
) -> object:
    """Import a CSV file (``Content-Type: text/csv``). Every row is validated first: one bad row
    rejects the file (422 with ``errors``) and nothing is imported."""
    found = csv_kind(kind)
    text = decode_csv(await request.body())

    def use_case(uow: UnitOfWork) -> dict[str, Any]:
        return asdict(run_import(uow, found, text))

    return await run_in_threadpool(write.run, use_case)  # imports are long: off the loop


@router.get(
    "/exports/{kind}",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(
    kind: str,
    db: DbDep,
    principal: Annotated[Principal, Depends(get_principal)],
) -> StreamingResponse:
    """Stream every row of a kind as CSV; the file imports back unchanged."""
    found = csv_kind(kind)
    require(found.read_scope)(principal)

    def stream() -> Iterator[str]:
        with db.read() as session:
            header, rows = found.exporter(session)
            yield from write_csv(header, rows)

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{found.name}.csv"'},
    )
