"""Stock CSV: a stock take per SKU and location (``sku,location_code,on_hand`` + settings)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import VariantRow
from omnicanal.inventory.locks import lock_levels
from omnicanal.inventory.service import Reference, record, to_domain
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.tabular import CsvRow, ImportRejected, ImportReport
from omnicanal.storage.uow import UnitOfWork

HEADER = ["sku", "location_code", "on_hand", "safety_stock", "low_stock_threshold"]
REQUIRED = ("sku", "location_code", "on_hand")


def _int(row: CsvRow, name: str, report: ImportReport, *, optional: bool) -> int | None:
    raw = row.get(name)
    if raw == "" and optional:
        return None
    try:
        value = int(raw)
    except ValueError:
        report.error(row.line, name, f"{raw!r} is not a whole number")
        return None
    if value < 0:
        report.error(row.line, name, f"{value} is negative")
        return None
    return value


Parsed = dict[tuple[str, str], tuple[int, int | None, int | None]]


def _parse(uow: UnitOfWork, rows: list[CsvRow], report: ImportReport) -> Parsed:
    skus = {r.get("sku") for r in rows}
    codes = {r.get("location_code") for r in rows}
    known_skus = set(uow.session.scalars(select(VariantRow.sku).where(VariantRow.sku.in_(skus))))
    locations = {
        code: location_id
        for code, location_id in uow.session.execute(
            select(LocationRow.code, LocationRow.id).where(LocationRow.code.in_(codes))
        )
    }
    parsed: Parsed = {}
    for row in rows:
        sku, code = row.get("sku"), row.get("location_code")
        if sku not in known_skus:
            report.error(row.line, "sku", f"unknown SKU {sku!r}")
        if code not in locations:
            report.error(row.line, "location_code", f"unknown location code {code!r}")
        on_hand = _int(row, "on_hand", report, optional=False)
        safety = _int(row, "safety_stock", report, optional=True)
        threshold = _int(row, "low_stock_threshold", report, optional=True)
        if sku in known_skus and code in locations and on_hand is not None:
            key = (sku, locations[code])
            if key in parsed:
                report.error(row.line, "sku", f"{sku} at {code} appears twice in the file")
            parsed[key] = (on_hand, safety, threshold)
    return parsed


def import_stock(uow: UnitOfWork, rows: list[CsvRow]) -> ImportReport:
    """Set counted quantities (adjustment movements of the difference); all rows or none."""
    report = ImportReport(kind="stock", rows=len(rows))
    if rows:
        missing = [c for c in REQUIRED if c not in rows[0].values]
        if missing:
            report.error(1, missing[0], f"missing column(s) {', '.join(missing)}")
            raise ImportRejected(report)
    parsed = _parse(uow, rows, report)
    levels = lock_levels(uow.session, parsed, create=True) if not report.errors else {}
    for (sku, location_id), (on_hand, _, _) in parsed.items():
        held = levels[(sku, location_id)] if levels else None
        if held is not None and on_hand < held.reserved + held.committed + held.damaged:
            line = next(r.line for r in rows if r.get("sku") == sku)
            report.error(
                line,
                "on_hand",
                f"{on_hand} is below the {held.reserved + held.committed + held.damaged} units "
                "reserved, committed or damaged",
            )
    if report.errors:
        report.errors.sort(key=lambda e: e.line)
        raise ImportRejected(report)
    ref = Reference("import", "stock-csv", "stock take (CSV)")
    for key, (on_hand, safety, threshold) in parsed.items():
        row_ = levels[key]
        existed = row_.on_hand or row_.safety_stock or row_.low_stock_threshold is not None
        level = to_domain(row_)
        before = level.available_to_promise
        if safety is not None:
            level.safety_stock = safety
        if threshold is not None:
            row_.low_stock_threshold = level.low_stock_threshold = threshold
        movement = level.count(on_hand)
        record(uow, row_, level, before, movement if movement.d_on_hand else None, ref=ref)
        if existed:
            report.updated += 1
        else:
            report.created += 1
    return report


def export_stock(session: Session) -> tuple[list[str], Iterator[list[str]]]:
    stmt = (
        select(
            StockLevelRow.sku,
            LocationRow.code,
            StockLevelRow.on_hand,
            StockLevelRow.safety_stock,
            StockLevelRow.low_stock_threshold,
        )
        .join(LocationRow, LocationRow.id == StockLevelRow.location_id)
        .order_by(LocationRow.code, StockLevelRow.sku)
        .execution_options(yield_per=2000)
    )

    def rows() -> Iterator[list[str]]:
        for sku, code, on_hand, safety, threshold in session.execute(stmt):
            yield [
                sku,
                code,
                str(on_hand),
                str(safety),
                "" if threshold is None else str(threshold),
            ]

    return HEADER, rows()
