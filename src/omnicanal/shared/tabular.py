"""CSV import/export contract shared by every context.

An importer validates every row first; if any row is wrong it raises ``ImportRejected`` with the
per-row report, and since it runs inside one unit of work nothing is half-imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from omnicanal.shared.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # line number in the file (the header is line 1)
    field: str | None
    message: str


@dataclass(slots=True)
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, line: int, field_name: str | None, message: str) -> None:
        self.errors.append(RowError(line, field_name, message))


class ImportRejected(InvalidInput):
    code = "import-rejected"
    title = "Import rejected: nothing was imported"

    def __init__(self, report: ImportReport) -> None:
        shown = "; ".join(
            f"line {e.line}{f' ({e.field})' if e.field else ''}: {e.message}"
            for e in report.errors[:5]
        )
        more = f" and {len(report.errors) - 5} more" if len(report.errors) > 5 else ""
        super().__init__(
            f"{len(report.errors)} row(s) of the {report.kind} file are invalid: {shown}{more}. "
            "Fix them and import the whole file again.",
            errors=[
                {"line": e.line, "field": e.field, "message": e.message} for e in report.errors
            ],
        )
        self.report = report


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    values: dict[str, str]

    def get(self, name: str) -> str:
        return (self.values.get(name) or "").strip()


def read_csv(text: str, *, required: Iterable[str], kind: str) -> list[CsvRow]:
    """Parse CSV text with a header; refuses a file missing a required column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(
            f"The {kind} file lacks column(s) {', '.join(missing)}; "
            f"expected at least: {', '.join(required)}.",
            code="import-rejected",
            field="header",
        )
    rows = []
    for index, raw in enumerate(reader, start=2):
        values = {(k or "").strip(): (v or "") for k, v in raw.items() if k is not None}
        if None in raw:
            values["__extra__"] = ",".join(raw[None])
        rows.append(CsvRow(index, values))
    return rows


def write_csv(header: list[str], rows: Iterable[list[str]]) -> Iterator[str]:
    """Stream CSV text chunk by chunk (exports never hold the whole file in memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
