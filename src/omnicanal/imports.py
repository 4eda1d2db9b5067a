"""CSV import/export kinds, shared by ``omnicanal import/export`` and ``/v1/imports``.

Each kind names an importer ``(uow, rows) -> ImportReport`` (raises ``ImportRejected``) and an
exporter ``(session) -> (header, rows)``, in the context that owns the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.tabular import CsvRow, ImportReport, read_csv

if TYPE_CHECKING:
    from omnicanal.storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class CsvKind:
    name: str
    module: str  # defines import_<name>(uow, rows) and export_<name>(session)
    write_scope: str
    read_scope: str
    description: str

    @property
    def importer(self) -> Callable[[Any, list[CsvRow]], ImportReport]:
        fn: Callable[[Any, list[CsvRow]], ImportReport] = getattr(
            import_module(self.module), f"import_{self.name}"
        )
        return fn

    @property
    def exporter(self) -> Callable[[Any], tuple[list[str], Iterator[list[str]]]]:
        fn: Callable[[Any], tuple[list[str], Iterator[list[str]]]] = getattr(
            import_module(self.module), f"export_{self.name}"
        )
        return fn


KINDS: dict[str, CsvKind] = {
    k.name: k
    for k in [
        CsvKind(
            "products",
            "omnicanal.catalog.csv_io",
            "catalog:write",
            "catalog:read",
            "one row per variant: product and variant fields",
        ),
        CsvKind(
            "prices",
            "omnicanal.catalog.csv_io",
            "catalog:write",
            "catalog:read",
            "base price per SKU and currency",
        ),
        CsvKind(
            "locations",
            "omnicanal.locations.csv_io",
            "locations:write",
            "locations:read",
            "stores, warehouses and relay points",
        ),
        CsvKind(
            "stock",
            "omnicanal.inventory.csv_io",
            "inventory:write",
            "inventory:read",
            "counted on-hand quantity per SKU and location (a stock take)",
        ),
    ]
}


def kind(name: str) -> CsvKind:
    try:
        return KINDS[name]
    except KeyError:
        raise NotFound(
            f"No CSV kind {name!r}; use one of {', '.join(KINDS)}.", field="kind"
        ) from None


def csv_kind(name: str) -> CsvKind:
    """The kind, and proof its module is installed (``stock`` ships with inventory)."""
    found = kind(name)
    try:
        found.importer  # noqa: B018 - resolves the module
    except (ModuleNotFoundError, AttributeError):
        raise NotFound(
            f"CSV kind {name!r} is not available in this installation.", field="kind"
        ) from None
    return found


def decode_csv(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"The file is not UTF-8 (byte {exc.start}); save it as CSV UTF-8.", field="body"
        ) from None


def run_import(uow: UnitOfWork, found: CsvKind, text: str) -> ImportReport:
    """Parse and import in one unit of work; ``ImportRejected`` rolls everything back."""
    return found.importer(uow, read_csv(text, required=(), kind=found.name))
